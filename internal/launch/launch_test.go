package launch_test

import (
	"context"
	"net/http"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/launch"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestServerAndFakeListenAndStop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bins, err := launch.Build(ctx, t.TempDir(), launch.ServerPkg, launch.FiberfakePkg)
	if err != nil {
		t.Fatal(err)
	}
	fake, err := launch.StartFake(bins[1])
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Stop()
	srv, err := launch.StartServer(bins[0], []string{"FIBER_API_KEY=" + fiberfake.DemoAPIKey},
		"-fiber-url", "http://"+fake.Addr, "-insecure-no-auth", "-store", "sqlite:"+t.TempDir()+"/f.db")
	if err != nil {
		t.Fatal(err)
	}
	for _, url := range []string{"http://" + srv.HTTPAddr + "/livez", "http://" + fake.Addr + "/_sim/stats"} {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s", url, resp.Status)
		}
	}
	if err := srv.Stop(); err != nil {
		t.Errorf("server stop: %v\n%s", err, srv.Logs())
	}
	if err := fake.Stop(); err != nil {
		t.Errorf("fiberfake stop: %v", err)
	}
	select {
	case <-srv.Exited():
	default:
		t.Error("Exited not closed after Stop")
	}
}

func TestStartReportsAnEarlyExit(t *testing.T) {
	_, err := launch.StartFake(os.Args[0], "-test.run", "^$", "-addr", "ignored")
	if err == nil {
		t.Fatal("a binary that exits at once was reported listening")
	}
}
