package fiberfaketest_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/fiberfake/fiberfaketest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestNewServer(t *testing.T) {
	sim, url := fiberfaketest.NewServer(t, fiberfake.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	body := `{"apiKey":"` + fiberfake.DemoAPIKey + `","personDetails":[{"linkedinUrl":{"value":"https://www.linkedin.com/in/a"}}]}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+fiberfake.EndpointStart.Path(), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || sim.Calls(fiberfake.EndpointStart) != 1 {
		t.Errorf("status %d, calls %d", res.StatusCode, sim.Calls(fiberfake.EndpointStart))
	}
}

// TestNewPipeServer runs the simulator in a synctest bubble: it answers over
// the pipe, and its tasks progress with the bubble's clock.
func TestNewPipeServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, client := fiberfaketest.NewPipeServer(t, fiberfake.Config{PeoplePerSecond: 1})
		body := `{"apiKey":"` + fiberfake.DemoAPIKey + `","personDetails":[{"linkedinUrl":{"value":"https://www.linkedin.com/in/a"}}]}`
		res, err := client.Post(fiberfaketest.PipeURL+fiberfake.EndpointStart.Path(), "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK || sim.Calls(fiberfake.EndpointStart) != 1 {
			t.Fatalf("status %d, calls %d", res.StatusCode, sim.Calls(fiberfake.EndpointStart))
		}
		if task := sim.StartedTasks()[0]; task.Done {
			t.Fatalf("task done at once at 1 person per second: %+v", task)
		}
		time.Sleep(time.Second)
		if task := sim.StartedTasks()[0]; !task.Done {
			t.Errorf("task not done a second later: %+v", task)
		}
	})
}
