package main

import (
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/fiberfake/fiberfaketest"
)

var update = flag.Bool("update", false, "rewrite golden files")

// The secret API keys of these tests. They must never appear in any output.
const (
	serverKey  = "sk-e2e-server-secret-4f1b"
	requestKey = "sk-e2e-request-secret-9c2d"
)

// newUpstream starts a seeded simulator that knows both test keys. Its task ids are salted
// alike on every run, so that the golden files hold them.
func newUpstream(t *testing.T) (*fiberfake.Sim, string) {
	return fiberfaketest.NewServer(t, fiberfake.Config{
		Seed:       7,
		TaskIDSalt: "e2e",
		Keys:       map[string]float64{serverKey: 100000, requestKey: 100000},
	})
}

func TestGrpcurlListsServiceHealthAndReflection(t *testing.T) {
	p := startServer(t, nil, "-fake-fiber")

	out, errOut, ok := p.grpcurl(t, "ADDR", "list")
	if !ok {
		t.Fatalf("grpcurl list failed: %s", errOut)
	}
	mustContain(t, out,
		"fibergate.contactdetails.v1.ContactDetailsService",
		"grpc.health.v1.Health",
		"grpc.reflection.v1.ServerReflection")

	out, errOut, ok = p.grpcurl(t, "ADDR", "describe", "fibergate.contactdetails.v1.ContactDetailsService")
	if !ok {
		t.Fatalf("grpcurl describe failed: %s", errOut)
	}
	mustContain(t, out, "rpc StartBatch", "rpc WatchTask", "returns ( stream .fibergate.contactdetails.v1.WatchTaskResponse )")

	out, errOut, ok = p.grpcurl(t, "ADDR", "grpc.health.v1.Health/Check")
	if !ok {
		t.Fatalf("grpcurl health check failed: %s", errOut)
	}
	mustContain(t, out, `"status": "SERVING"`)
}

func TestStartBatchWithGrpcurl(t *testing.T) {
	sim, url := newUpstream(t)
	p := startServer(t, []string{"FIBER_API_KEY=" + serverKey}, "-fiber-url", url)

	// Fiber-shaped JSON, without apiKey: the server's own key is used.
	req := `{
	  "personDetails": [
	    {"linkedinUrl": {"value": "https://www.linkedin.com/in/jake"}},
	    {"linkedinUrl": {"value": "https://www.linkedin.com/in/ada-lovelace"}},
	    {"linkedinUrl": {"value": "https://www.linkedin.com/in/jake"}}
	  ],
	  "enrichmentTypes": {"getWorkEmails": true, "getPersonalEmails": true, "getPhoneNumbers": true}
	}`
	out, errOut, ok := p.grpcurl(t, "-d", req, "ADDR", "fibergate.contactdetails.v1.ContactDetailsService/StartBatch")
	if !ok {
		t.Fatalf("StartBatch failed: %s", errOut)
	}
	var resp struct {
		Output struct {
			TaskID               string `json:"taskId"`
			NumPeopleEnqueued    int    `json:"numPeopleEnqueued"`
			NumDuplicatesSkipped int    `json:"numDuplicatesSkipped"`
		} `json:"output"`
		ChargeInfo struct {
			ChargedNow *struct {
				CreditsCharged float64 `json:"creditsCharged"`
			} `json:"chargedNow"`
			FiberMethod string `json:"fiberMethod"`
		} `json:"chargeInfo"`
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatalf("decode %q: %v", out, err)
	}
	if resp.Output.TaskID == "" || resp.Output.NumPeopleEnqueued != 2 || resp.Output.NumDuplicatesSkipped != 1 {
		t.Errorf("output = %+v, want a task id, 2 enqueued, 1 duplicate", resp.Output)
	}
	if resp.ChargeInfo.ChargedNow == nil || resp.ChargeInfo.ChargedNow.CreditsCharged != 10 || resp.ChargeInfo.FiberMethod != "charged-now" {
		t.Errorf("chargeInfo = %+v, want chargedNow with 10 credits (2 people × 5)", resp.ChargeInfo)
	}
	if got := sim.Calls(fiberfake.EndpointStart); got != 1 {
		t.Errorf("simulator counted %d starts, want 1", got)
	}
	if got, _ := sim.Credits(serverKey); got != 100000-10 {
		t.Errorf("server key balance = %v, want %v", got, 100000-10)
	}
	assertNoSecrets(t, out+errOut+p.logs.String())
}

// fiberDocumentedBody is the request body of Fiber's own startBatchContactDetails page, field
// for field.
const fiberDocumentedBody = `{
  "apiKey": "` + requestKey + `",
  "personDetails": [
    {"linkedinUrl": {"value": "https://www.linkedin.com/in/jake"}}
  ],
  "enrichmentTypes": {
    "getWorkEmails": true,
    "getPersonalEmails": true,
    "getPhoneNumbers": true
  }
}`

func TestStartBatchRESTWithFiberDocumentedBody(t *testing.T) {
	sim, url := newUpstream(t)
	// Fiber's body carries apiKey: the server must be told to accept request keys.
	p := startServer(t, []string{"FIBER_API_KEY=" + serverKey}, "-fiber-url", url, "-allow-request-api-key")

	code, _, body := p.rest(t, http.MethodPost, "/v1/contact-details/batch/start", []byte(fiberDocumentedBody), nil)
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	golden(t, "start_rest.json", body)
	if got, _ := sim.Credits(requestKey); got != 100000-5 {
		t.Errorf("the request's key was not the one charged: balance %v", got)
	}
	assertNoSecrets(t, string(body)+p.logs.String())
}

func TestUnknownRESTFieldsComeBackAsWarnings(t *testing.T) {
	_, url := newUpstream(t)
	p := startServer(t, []string{"FIBER_API_KEY=" + serverKey}, "-fiber-url", url)

	body := `{"personDetails":[{"linkedinUrl":{"value":"https://www.linkedin.com/in/jake","note":"x"},"rank":1}],
	          "enrichmentTypes":{"getWorkEmails":true,"getFaxNumbers":true},"callbackUrl":"https://example.com"}`
	code, _, out := p.rest(t, http.MethodPost, "/v1/contact-details/batch/start", []byte(body), nil)
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, out)
	}
	var resp struct {
		Warnings []struct{ Field, Message string } `json:"warnings"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	var fields []string
	for _, w := range resp.Warnings {
		fields = append(fields, w.Field)
		if w.Message == "" {
			t.Errorf("warning %q has no message", w.Field)
		}
	}
	want := []string{"callbackUrl", "enrichmentTypes.getFaxNumbers", "personDetails[0].linkedinUrl.note", "personDetails[0].rank"}
	if diff := cmp.Diff(want, slices.Sorted(slices.Values(fields))); diff != "" {
		t.Errorf("warning fields (-want +got):\n%s", diff)
	}
}

func TestGracefulShutdownOnSIGTERM(t *testing.T) { testGracefulShutdown(t, syscall.SIGTERM) }

func TestGracefulShutdownOnSIGINT(t *testing.T) { testGracefulShutdown(t, syscall.SIGINT) }

// testGracefulShutdown checks that sig stops a serving server cleanly: exit status 0 and the
// shutdown logged.
func testGracefulShutdown(t *testing.T, sig os.Signal) {
	p := startServer(t, nil, "-fake-fiber")
	if _, errOut, ok := p.grpcurl(t, "ADDR", "list"); !ok {
		t.Fatalf("grpcurl list: %s", errOut)
	}
	if err := p.stopWith(sig); err != nil {
		t.Fatalf("server exit after %v: %v\n%s", sig, err, p.logs.String())
	}
	mustContain(t, p.logs.String(), "fibergate shutting down")
}

func TestHelpListsEveryFlagWithItsEnvironmentVariable(t *testing.T) {
	var out strings.Builder
	if _, err := parseConfig([]string{"-h"}, func(string) string { return "" }, &out); err == nil {
		t.Fatal("-h did not return flag.ErrHelp")
	}
	mustContain(t, out.String(),
		"-grpc-addr", "FIBERGATE_GRPC_ADDR", "-http-addr", "FIBERGATE_HTTP_ADDR",
		"-fiber-url", "FIBER_BASE_URL", "FIBER_API_KEY", "-fake-fiber", "FIBERGATE_FAKE_FIBER")
}

func TestEnvironmentFallbacks(t *testing.T) {
	env := map[string]string{"FIBERGATE_GRPC_ADDR": "127.0.0.1:1", "FIBERGATE_FAKE_FIBER": "true", "FIBER_BASE_URL": "http://x"}
	cfg, err := parseConfig([]string{"-http-addr", "127.0.0.1:2"}, func(k string) string { return env[k] }, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.grpcAddr != "127.0.0.1:1" || cfg.httpAddr != "127.0.0.1:2" || !cfg.fakeFiber || cfg.fiberURL != "http://x" {
		t.Errorf("config = %+v", cfg)
	}
	// A flag wins over the environment.
	cfg, err = parseConfig([]string{"-grpc-addr", "127.0.0.1:3"}, func(k string) string { return env[k] }, &strings.Builder{})
	if err != nil || cfg.grpcAddr != "127.0.0.1:3" {
		t.Errorf("flag did not override env: %+v, %v", cfg, err)
	}
	if _, err := parseConfig(nil, func(k string) string {
		return map[string]string{"FIBERGATE_FAKE_FIBER": "maybe"}[k]
	}, &strings.Builder{}); err == nil {
		t.Error("a malformed FIBERGATE_FAKE_FIBER was accepted")
	}
}

// assertNoSecrets fails if any test API key appears in s.
func assertNoSecrets(t testing.TB, s string) {
	t.Helper()
	for _, k := range []string{serverKey, requestKey} {
		if strings.Contains(s, k) {
			t.Errorf("a secret API key leaked into output")
		}
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatalf("not JSON: %s", got)
	}
	pretty, _ := json.MarshalIndent(v, "", "  ")
	pretty = append(pretty, '\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, pretty, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(pretty)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

func TestRequestAPIKeyRefusedUnlessAllowed(t *testing.T) {
	sim, url := newUpstream(t)
	p := startServer(t, []string{"FIBER_API_KEY=" + serverKey}, "-fiber-url", url)
	code, _, body := p.rest(t, http.MethodPost, "/v1/contact-details/batch/start", []byte(fiberDocumentedBody), nil)
	if code != http.StatusForbidden || !strings.Contains(string(body), "REQUEST_API_KEY_NOT_ALLOWED") {
		t.Errorf("status %d %s, want 403 REQUEST_API_KEY_NOT_ALLOWED", code, body)
	}
	if n := sim.Calls(fiberfake.EndpointStart); n != 0 {
		t.Errorf("%d upstream starts, want 0", n)
	}
	assertNoSecrets(t, string(body)+p.logs.String())
}
