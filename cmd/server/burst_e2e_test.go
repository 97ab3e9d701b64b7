package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/fibergate/fibergate/internal/auth"
	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/fiberfake/fiberfaketest"
)

// TestStartBurstThroughTheBudget: 90 StartBatch calls at once from 5 callers through a scaled
// limit of 30/6s, against a simulator enforcing the same limit, compared in the same test with
// a naive client that then fires everything at its own simulator and retries each 429 after 1s.
func TestStartBurstThroughTheBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("two 12 s real-time bursts")
	}
	limit := fiberfake.Rate{N: 30, Per: 6 * time.Second}
	simCfg := func() fiberfake.Config {
		return fiberfake.Config{Seed: 5, Keys: map[string]float64{serverKey: 1e9}, Limits: fiberfake.Limits{Start: limit}}
	}
	ours, ourURL := fiberfaketest.NewServer(t, simCfg())
	naive, naiveURL := fiberfaketest.NewServer(t, simCfg())

	callers := []string{"c0", "c1", "c2", "c3", "c4"}
	var tokens bytes.Buffer
	for _, c := range callers {
		fmt.Fprintf(&tokens, "%s %s\n", c, auth.HashToken("token-"+c))
	}
	tokensFile := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokensFile, tokens.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startServer(t, []string{"FIBER_API_KEY=" + serverKey}, "-fiber-url", ourURL, "-tokens-file", tokensFile,
		"-start-rate", "30/6s", "-max-queue-wait", "1m")
	client := p.dial(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	type done struct {
		caller string
		at     time.Duration
	}
	var (
		mu       sync.Mutex
		finished []done
		failures []error
		wg       sync.WaitGroup
	)
	began := time.Now()
	for i := range 18 {
		for _, c := range callers {
			cctx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer token-"+c)
			wg.Add(1)
			go func() {
				defer wg.Done()
				req := oneStart()
				req.PersonDetails[0].LinkedinUrl.Value = fmt.Sprintf("https://www.linkedin.com/in/%s-%d", c, i)
				_, err := client.StartBatch(cctx, req)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failures = append(failures, err)
					return
				}
				finished = append(finished, done{c, time.Since(began)})
			}()
		}
	}

	wg.Wait()
	total := time.Since(began)

	// Then the naive client, on its own simulator (one after the other, so that neither steals
	// the CPU from the other): fire, retry 429s after 1s. It gets until 1.05× our time; then
	// it is stopped.
	var naiveDone []time.Duration
	var naiveWG sync.WaitGroup
	naiveCtx, stopNaive := context.WithTimeout(ctx, total*105/100)
	defer stopNaive()
	naiveBegan := time.Now()
	for i := range 90 {
		naiveWG.Add(1)
		go func() {
			defer naiveWG.Done()
			body := fmt.Sprintf(`{"apiKey":%q,"personDetails":[{"linkedinUrl":{"value":"https://www.linkedin.com/in/naive-%d"}}]}`, serverKey, i)
			for attempt := 0; attempt < 120 && naiveCtx.Err() == nil; attempt++ {
				req, _ := http.NewRequestWithContext(naiveCtx, http.MethodPost, naiveURL+"/v1/contact-details/batch/start", bytes.NewBufferString(body))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					mu.Lock()
					naiveDone = append(naiveDone, time.Since(naiveBegan))
					mu.Unlock()
					return
				}
				select {
				case <-naiveCtx.Done():
				case <-time.After(time.Second):
				}
			}
		}()
	}
	naiveWG.Wait()

	if len(failures) > 0 {
		t.Fatalf("%d of 90 calls failed, e.g. %v", len(failures), failures[0])
	}
	ourStats := ours.Stats().Endpoints[fiberfake.EndpointStart]
	naiveStats := naive.Stats().Endpoints[fiberfake.EndpointStart]
	sort.Slice(finished, func(i, j int) bool { return finished[i].at < finished[j].at })
	// The first 30 go at once; while the queue stays non-empty, starts 31..90 go at the
	// window's pace: 60 starts over two windows.
	allowed := float64(limit.N) / limit.Per.Seconds()
	rate := 60 / (finished[89].at - finished[29].at).Seconds() / allowed * 100
	// Fairness: the first window is granted in arrival order (no queue yet); after that the
	// queue hands each window's slots out round-robin, so within each later window the callers
	// that still had calls waiting got equal shares (±1), a caller that ran out no more.
	perWindow := make([]map[string]int, 3)
	for w := range perWindow {
		perWindow[w] = map[string]int{}
	}
	for _, d := range finished {
		// Slots free up in bursts about one window apart: bucket by the mid-points.
		w := min(2, int((d.at+limit.Per/2)/limit.Per))
		perWindow[w][d.caller]++
	}
	unfair := ""
	served := map[string]int{}
	for w, counts := range perWindow {
		if w > 0 {
			lo, hi := 1<<30, 0
			for _, c := range callers {
				if served[c] == 18 {
					continue // nothing left to wait for
				}
				n := counts[c]
				hi = max(hi, n)
				if served[c]+n < 18 { // still waiting at the window's end
					lo = min(lo, n)
				}
			}
			if lo != 1<<30 && hi-lo > 1 {
				unfair += fmt.Sprintf(" window %d: %v;", w, counts)
			}
		}
		for c, n := range counts {
			served[c] += n
		}
	}
	var naiveTotal time.Duration
	if len(naiveDone) == 90 {
		sort.Slice(naiveDone, func(i, j int) bool { return naiveDone[i] < naiveDone[j] })
		naiveTotal = naiveDone[89]
	}
	t.Logf("fibergate: 90/90 in %v, %d 429s at its simulator, %.1f%% of the allowed rate while queued; grants per caller by window: %v",
		total.Round(time.Millisecond), ourStats.RateLimited, rate, perWindow)
	if naiveTotal > 0 {
		t.Logf("naive: 90/90 in %v, %d 429s", naiveTotal.Round(time.Millisecond), naiveStats.RateLimited)
	} else {
		t.Logf("naive: %d/90 done when stopped at 1.05× fibergate's time, %d 429s", len(naiveDone), naiveStats.RateLimited)
	}

	if ourStats.RateLimited != 0 {
		t.Errorf("the simulator refused %d of fibergate's starts", ourStats.RateLimited)
	}
	if ourStats.Calls != 90 {
		t.Errorf("%d starts reached the simulator, want 90", ourStats.Calls)
	}
	if rate < 95 {
		t.Errorf("achieved %.1f%% of the allowed rate while queued, want ≥ 95%%", rate)
	}
	if unfair != "" {
		t.Errorf("waiting callers did not get equal shares:%s", unfair)
	}
	if len(naiveDone) == 90 && total.Seconds() > 1.05*naiveTotal.Seconds() {
		t.Errorf("fibergate took %v, more than 1.05 × the naive client's %v", total, naiveTotal)
	}
}
