package fiber_test

import (
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fibergate/fibergate/internal/fiber"
)

func TestNew(t *testing.T) {
	tests := []struct {
		baseURL string
		opts    []fiber.Option
		wantErr string
	}{
		{baseURL: "https://api.fiber.ai"},
		{baseURL: "http://127.0.0.1:8080/"},
		{baseURL: "https://proxy.internal/fiber/"},
		{baseURL: "https://api.fiber.ai", opts: []fiber.Option{nil, fiber.WithTimeout(0), fiber.WithHTTPClient(nil)}},
		{baseURL: "", wantErr: "scheme"},
		{baseURL: "api.fiber.ai", wantErr: "scheme"},
		{baseURL: "ftp://api.fiber.ai", wantErr: "scheme"},
		{baseURL: "https://", wantErr: "missing host"},
		{baseURL: "https:///v1", wantErr: "missing host"},
		{baseURL: "https://user:pw@api.fiber.ai", wantErr: "credentials"},
		{baseURL: "https://api.fiber.ai?x=1", wantErr: "query"},
		{baseURL: "https://api.fiber.ai#frag", wantErr: "query or fragment"},
		{baseURL: "https://api.fiber.ai/%zz", wantErr: "parse base url"},
		{baseURL: "https://api.fiber.ai", opts: []fiber.Option{fiber.WithTimeout(-time.Second)}, wantErr: "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.baseURL, func(t *testing.T) {
			c, err := fiber.New(tt.baseURL, tt.opts...)
			if tt.wantErr == "" {
				if err != nil || c == nil {
					t.Fatalf("New: %v", err)
				}
				c.CloseIdleConnections()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestBasePathPrefix(t *testing.T) {
	rec := &recorder{status: http.StatusOK, body: `{"output":{"cancelledCount":1,"creditsRefunded":5,"message":"ok"}}`}
	_, srv := newTestClient(t, rec)
	c, err := fiber.New(srv.URL+"/proxy/", fiber.WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Cancel(testContext(t), testKey, "t"); err != nil {
		t.Fatal(err)
	}
	if got := rec.requests()[0].Path; got != "/proxy/v1/contact-details/batch/cancel" {
		t.Errorf("path = %q", got)
	}
	if got := rec.requests()[0].UserAgent; got != fiber.DefaultUserAgent {
		t.Errorf("User-Agent = %q, want %q", got, fiber.DefaultUserAgent)
	}
}

func TestSuccess(t *testing.T) {
	ctx := testContext(t)
	t.Run("start", func(t *testing.T) {
		c, _ := newTestClient(t, jsonHandler(http.StatusOK, `{"output":{"taskId":"t-9","numPeopleEnqueued":2,"numDuplicatesSkipped":0},
			"chargeInfo":{"method":"charged-now","creditsCharged":10,"lowCreditAlert":null},"warnings":null,"advice":[]}`))
		got, err := c.Start(ctx, testKey, fiber.StartRequest{LinkedInURLs: []string{"a", "b"}})
		if err != nil {
			t.Fatal(err)
		}
		want := &fiber.StartResponse{TaskID: "t-9", NumPeopleEnqueued: 2, NumDuplicatesSkipped: ptr(0),
			Charge: fiber.ChargeInfo{Method: "charged-now", CreditsCharged: ptr(10.0)}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Start (-want +got):\n%s", diff)
		}
	})
	t.Run("poll", func(t *testing.T) {
		c, _ := newTestClient(t, jsonHandler(http.StatusOK, `{"output":{"overallStats":{"totalPeopleToFetch":1,"numCompleted":1},
			"done":true,"pageResults":[{"inputs":{"linkedinUrl":{"value":"a"}},"outputs":null}],"nextCursor":"c"}}`))
		got, err := c.Poll(ctx, testKey, fiber.PollRequest{TaskID: "t-9"})
		if err != nil {
			t.Fatal(err)
		}
		want := &fiber.PollResponse{Stats: fiber.OverallStats{TotalPeopleToFetch: 1, NumCompleted: 1}, Done: true,
			Results: []fiber.PersonResult{{LinkedInURL: "a", NoData: true}}, NextCursor: ptr("c")}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Poll (-want +got):\n%s", diff)
		}
	})
	t.Run("cancel accepts any 2xx", func(t *testing.T) {
		c, _ := newTestClient(t, jsonHandler(http.StatusAccepted, `{"output":{"cancelledCount":3,"creditsRefunded":15,"message":"done"}}`))
		got, err := c.Cancel(ctx, testKey, "t-9")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&fiber.CancelResponse{CancelledCount: 3, CreditsRefunded: 15, Message: "done"}, got); diff != "" {
			t.Errorf("Cancel (-want +got):\n%s", diff)
		}
	})
}

func TestKeyID(t *testing.T) {
	id := fiber.KeyID(testKey)
	if !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(id) {
		t.Errorf("KeyID = %q, want 12 lowercase hex digits", id)
	}
	if id != fiber.KeyID(testKey) {
		t.Error("KeyID is not stable")
	}
	if id == fiber.KeyID(testKey+"x") {
		t.Error("KeyID does not tell keys apart")
	}
	// SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad.
	if got := fiber.KeyID("abc"); got != "ba7816bf8f01" {
		t.Errorf(`KeyID("abc") = %q`, got)
	}
}

func TestConcurrentUse(t *testing.T) {
	var (
		mu    sync.Mutex // guards seen
		seen  = map[fiber.Endpoint]int{}
		bodyS = `{"output":{"taskId":"t","numPeopleEnqueued":1},"chargeInfo":{"method":"free","message":"m"},"advice":[]}`
		bodyP = `{"output":{"done":true,"pageResults":[]}}`
	)
	mux := http.NewServeMux()
	mux.Handle("/v1/contact-details/batch/start", jsonHandler(http.StatusOK, bodyS))
	mux.Handle("/v1/contact-details/batch/poll", jsonHandler(http.StatusOK, bodyP))
	mux.Handle("/v1/contact-details/batch/cancel", jsonHandler(http.StatusTooManyRequests, `{"message":"slow"}`))
	c, _ := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, ep := range allEndpoints() {
			if r.URL.Path == ep.Path() {
				mu.Lock()
				seen[ep]++
				mu.Unlock()
			}
		}
		mux.ServeHTTP(w, r)
	}))
	ctx := testContext(t)
	var wg sync.WaitGroup
	errs := make(chan error, 3*8*10)
	for range 8 {
		for _, ep := range allEndpoints() {
			wg.Go(func() {
				for range 10 {
					err := call(ctx, c, ep)
					if ep == fiber.EndpointCancel && fiber.KindOf(err) == fiber.KindRateLimited {
						err = nil
					}
					if err != nil {
						errs <- err
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	want := map[fiber.Endpoint]int{fiber.EndpointStart: 80, fiber.EndpointPoll: 80, fiber.EndpointCancel: 80}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("requests per endpoint (-want +got):\n%s", diff)
	}
}
