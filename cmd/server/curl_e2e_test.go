package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

// TestREADMEWatchWithCurl runs the README's "Following a task" example with the real curl:
// a task started with grpcurl, then watched with `curl -sN "localhost:8080/…/$TASK:watch"`.
func TestREADMEWatchWithCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed")
	}
	p := startServer(t, nil, "-fake-fiber")
	out, errOut, ok := p.grpcurl(t, "-d", `{"personDetails":[{"linkedinUrl":{"value":"https://www.linkedin.com/in/jake"}}]}`,
		"ADDR", "fibergate.contactdetails.v1.ContactDetailsService/StartBatch")
	if !ok {
		t.Fatalf("grpcurl StartBatch: %s", errOut)
	}
	var started struct {
		Output struct{ TaskID string } `json:"output"`
	}
	if err := json.Unmarshal([]byte(out), &started); err != nil || started.Output.TaskID == "" {
		t.Fatalf("StartBatch printed %s (%v), want a taskId", out, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The README's address has no scheme: curl assumes http.
	cmd := exec.CommandContext(ctx, curl, "-sN", p.httpAddr+"/v1/contact-details/batch/"+started.Output.TaskID+":watch")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("curl: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	var msgs []*cdv1.WatchTaskResponse
	for i, line := range lines {
		var env struct {
			Result json.RawMessage `json:"result"`
		}
		if err := json.Unmarshal([]byte(line), &env); err != nil || env.Result == nil {
			t.Fatalf(`line %d is not {"result": …}: %s`, i, line)
		}
		m := &cdv1.WatchTaskResponse{}
		if err := protojson.Unmarshal(env.Result, m); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		msgs = append(msgs, m)
		if m.GetTaskId() != started.Output.TaskID || m.GetResumeToken() == "" {
			t.Errorf("line %d: task %q, resume token %q", i, m.GetTaskId(), m.GetResumeToken())
		}
	}
	if last := msgs[len(msgs)-1]; last.GetState() != cdv1.TaskState_TASK_STATE_SUCCEEDED {
		t.Errorf("the stream ended at %v, want SUCCEEDED:\n%s", last.GetState(), stdout.String())
	}
	if rs := results(msgs); len(rs) != 1 || rs[0].GetLinkedinUrl() != "https://www.linkedin.com/in/jake" {
		t.Errorf("results %v, want jake's alone", rs)
	}
}
