package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/google/uuid"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiberfake"
)

// Sizes of the overhead scenario: how many starts of how many people, and the goal on the
// added latency's p50 (0: none).
var overheadSizes = []struct {
	people, starts int
	goal           time.Duration
}{
	{people: 1, starts: 200},
	{people: 2000, starts: 100, goal: 5 * time.Millisecond},
}

// overheadWarmup is how many unmeasured pairs of starts of each size go first.
const overheadWarmup = 5

// runOverhead measures the latency fibergate adds to a start. Each start through fibergate's
// gRPC StartBatch is paired with the same start (as many other people) sent as Fiber's JSON
// straight to the simulator over HTTP, one after the other on one connection each, the pair's
// order alternating; the added latency is each pair's difference. Both rate limits are far
// above the pace of the starts, so nothing waits for the budget, and the simulator's people
// never finish, so the pollers of the started tasks find nothing and store nothing.
func runOverhead(ctx context.Context, b *bench) (section, error) {
	s, err := b.startStack(
		[]string{"-start-rate", "unlimited", "-people-per-second", "1e-6", "-keys", fiberfake.DemoAPIKey + "=1e12"},
		[]string{"-start-rate", "1000000/1m"})
	if err != nil {
		return section{}, err
	}
	defer s.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	direct := &http.Client{Transport: tr}

	sec := section{
		title: "StartBatch overhead",
		setup: fmt.Sprintf("Starts sent one at a time, each through fibergate (gRPC, with a request_id) and straight to the simulator (Fiber's JSON over HTTP/1.1), %d unmeasured pairs first; start limits raised to 1,000,000/min (server) and unlimited (simulator) so that no start waits; Fiber's 240 polls/min.", overheadWarmup),
	}
	for _, size := range overheadSizes {
		b.logf("overhead: %d starts of %d person(s) each way", size.starts, size.people)
		var fg, raw, added []time.Duration
		for i := range overheadWarmup + size.starts {
			urls := make([][]string, 2)
			for j := range urls {
				urls[j] = peopleURLs(fmt.Sprintf("ovh-%d-%d-%d", size.people, i, j), size.people)
			}
			var dFG, dRaw time.Duration
			var err error
			if i%2 == 0 {
				if dFG, err = startThrough(ctx, s.client, urls[0]); err == nil {
					dRaw, err = startDirect(ctx, direct, s.fiberURL(), urls[1])
				}
			} else {
				if dRaw, err = startDirect(ctx, direct, s.fiberURL(), urls[1]); err == nil {
					dFG, err = startThrough(ctx, s.client, urls[0])
				}
			}
			if err != nil {
				return section{}, fmt.Errorf("%d-person start %d: %w", size.people, i, err)
			}
			if i < overheadWarmup {
				continue
			}
			fg, raw, added = append(fg, dFG), append(raw, dRaw), append(added, dFG-dRaw)
		}
		sec.rows = append(sec.rows, overheadRows(size.people, fg, raw, added, size.goal)...)
	}
	sec.notes = append(sec.notes,
		"Added latency is per pair (the fibergate start's time minus the direct one's), so its quantiles are not the differences of the columns' quantiles. Through fibergate a start is validated (2000 URL patterns), recorded under its request_id before and after Fiber answers, sent to Fiber, and its task stored; the ideal adds nothing. In-process, internal/server's BenchmarkStartBatch measures fibergate's own share without the noise of separate processes, and internal/fiberpb's BenchmarkStartBatchToFiberJSON validation and translation alone. Client, server and simulator share the machine's cores.")
	return sec, nil
}

// overheadRows are the figures of one size.
func overheadRows(people int, fg, raw, added []time.Duration, goal time.Duration) []row {
	var rows []row
	for _, q := range []struct {
		name string
		q    float64
	}{{"p50", 0.5}, {"p99", 0.99}} {
		f, r := quantile(fg, q.q), quantile(raw, q.q)
		rows = append(rows, row{
			figure:    fmt.Sprintf("%d-person start, latency %s (%d starts)", people, q.name, len(fg)),
			fibergate: millis(f),
			baseline:  millis(r),
			ideal:     millis(r),
			ratio:     times(ratio(float64(f), float64(r))),
		})
	}
	for _, q := range []struct {
		name string
		q    float64
	}{{"p50", 0.5}, {"p99", 0.99}} {
		a := quantile(added, q.q)
		r := row{figure: fmt.Sprintf("%d-person start, added latency %s", people, q.name), fibergate: millis(a), ideal: millis(0)}
		if goal > 0 && q.q == 0.5 {
			r.goal = verdict("≤ "+millis(goal), a <= goal)
		}
		rows = append(rows, r)
	}
	return rows
}

// peopleURLs returns n distinct LinkedIn profile URLs named after prefix.
func peopleURLs(prefix string, n int) []string {
	urls := make([]string, n)
	for i := range urls {
		urls[i] = fmt.Sprintf("https://www.linkedin.com/in/%s-%d", prefix, i)
	}
	return urls
}

// startThrough starts a batch of urls through fibergate and returns how long the call took.
func startThrough(ctx context.Context, c cdv1.ContactDetailsServiceClient, urls []string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	begin := time.Now()
	req := &cdv1.StartBatchRequest{RequestId: uuid.NewString(), PersonDetails: make([]*cdv1.PersonDetails, len(urls))}
	for i, u := range urls {
		req.PersonDetails[i] = &cdv1.PersonDetails{LinkedinUrl: &cdv1.LinkedInUrl{Value: u}}
	}
	resp, err := c.StartBatch(ctx, req)
	took := time.Since(begin)
	if err != nil {
		return 0, fmt.Errorf("through fibergate: %w", err)
	}
	if resp.GetOutput().GetTaskId() == "" {
		return 0, fmt.Errorf("through fibergate: no task id in the answer")
	}
	return took, nil
}

// fiberStart is Fiber's start request body.
type fiberStart struct {
	APIKey        string        `json:"apiKey"`
	PersonDetails []fiberPerson `json:"personDetails"`
}

type fiberPerson struct {
	LinkedinURL struct {
		Value string `json:"value"`
	} `json:"linkedinUrl"`
}

// startDirect sends a start of urls straight to the simulator at base, as a client without
// fibergate would (encoding the JSON, decoding the answer), and returns how long it took.
func startDirect(ctx context.Context, c *http.Client, base string, urls []string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	begin := time.Now()
	body := fiberStart{APIKey: fiberfake.DemoAPIKey, PersonDetails: make([]fiberPerson, len(urls))}
	for i, u := range urls {
		body.PersonDetails[i].LinkedinURL.Value = u
	}
	data, err := json.Marshal(body)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+fiberfake.EndpointStart.Path(), bytes.NewReader(data))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("straight to the simulator: %w", err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("straight to the simulator: %w", err)
	}
	var out struct {
		Output struct {
			TaskID string `json:"taskId"`
		} `json:"output"`
	}
	if err := json.Unmarshal(answer, &out); err != nil || resp.StatusCode != http.StatusOK || out.Output.TaskID == "" {
		return 0, fmt.Errorf("straight to the simulator: %s: %.200s", resp.Status, answer)
	}
	return time.Since(begin), nil
}
