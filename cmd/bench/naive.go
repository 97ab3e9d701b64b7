package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/fiberfake"
)

// naiveClient calls a simulator's Fiber API straight, as a service without fibergate would:
// plain HTTP, one request per call, nothing between it and Fiber's limits. It is safe for
// concurrent use.
type naiveClient struct {
	base string
	hc   *http.Client
}

func newNaiveClient(base string) *naiveClient {
	return &naiveClient{base: base, hc: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 256},
	}}
}

// close drops the client's idle connections.
func (c *naiveClient) close() { c.hc.CloseIdleConnections() }

// start starts a batch of urls with the simulator's demo key. limited reports a 429, with a
// nil error.
func (c *naiveClient) start(ctx context.Context, urls []string) (taskID string, limited bool, err error) {
	type linkedin struct {
		Value string `json:"value"`
	}
	type person struct {
		LinkedinURL linkedin `json:"linkedinUrl"`
	}
	body := struct {
		APIKey        string   `json:"apiKey"`
		PersonDetails []person `json:"personDetails"`
	}{APIKey: fiberfake.DemoAPIKey}
	for _, u := range urls {
		body.PersonDetails = append(body.PersonDetails, person{linkedin{u}})
	}
	raw, status, err := c.post(ctx, fiberfake.EndpointStart.Path(), body)
	if err != nil || status == http.StatusTooManyRequests {
		return "", err == nil, err
	}
	resp, err := fiber.DecodeStartResponse(raw)
	if err != nil {
		return "", false, err
	}
	return resp.TaskID, false, nil
}

// poll asks for the page of taskID after cursor (nil: from the first result), 100 results at
// most. limited reports a 429, with a nil error.
func (c *naiveClient) poll(ctx context.Context, taskID string, cursor *string) (resp *fiber.PollResponse, limited bool, err error) {
	body := struct {
		APIKey string  `json:"apiKey"`
		TaskID string  `json:"taskId"`
		Cursor *string `json:"cursor,omitempty"`
		Take   int     `json:"take"`
	}{fiberfake.DemoAPIKey, taskID, cursor, pageSize}
	raw, status, err := c.post(ctx, fiberfake.EndpointPoll.Path(), body)
	if err != nil || status == http.StatusTooManyRequests {
		return nil, err == nil, err
	}
	resp, err = fiber.DecodePollResponse(raw)
	return resp, false, err
}

// post sends body as JSON to path and returns a 200 or 429 answer; any other status is an
// error.
func (c *naiveClient) post(ctx context.Context, path string, body any) ([]byte, int, error) {
	buf, err := json.Marshal(body)
	if err != nil {
		return nil, 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(buf))
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, 0, fmt.Errorf("POST %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusTooManyRequests {
		return nil, resp.StatusCode, fmt.Errorf("POST %s: %s", path, resp.Status) // the body may echo the key
	}
	return raw, resp.StatusCode, nil
}

// pageReader follows one task's result pages as a careful caller does: it keeps the last
// cursor Fiber gave (a caught-up page may carry a null one, and the next poll then repeats
// the same results and any new ones) and counts only results it has not seen.
type pageReader struct {
	cursor *string
	skip   int // results after cursor already counted
	got    int // results counted
}

// read counts the new results of a page answered to a poll with r.cursor and reports whether
// the next page may be waiting already (this one was full and moved the cursor).
func (r *pageReader) read(p *fiber.PollResponse) (more bool) {
	r.got += max(0, len(p.Results)-r.skip)
	moved := p.NextCursor != nil && (r.cursor == nil || *p.NextCursor != *r.cursor)
	if moved {
		r.cursor, r.skip = p.NextCursor, 0
	} else {
		r.skip = max(r.skip, len(p.Results))
	}
	return moved && len(p.Results) == pageSize
}
