package fiber_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fibergate/fibergate/internal/fiber"
)

// lastBody is an http.Handler that keeps the body of the last request and answers 418.
type lastBody struct {
	mu   sync.Mutex // guards body
	body []byte
}

func (h *lastBody) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.body = b
	h.mu.Unlock()
	w.WriteHeader(http.StatusTeapot)
}

// sentStartBody starts req with apiKey through c, whose server is h, and returns the body the
// server received.
func sentStartBody(t testing.TB, c *fiber.Client, h *lastBody, apiKey string, req fiber.StartRequest) []byte {
	t.Helper()
	if _, err := c.Start(testContext(t), apiKey, req); fiber.KindOf(err) != fiber.KindProtocol {
		t.Fatalf("Start: got %v, want the server's 418 as KindProtocol", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.body
}

// TestStartBodyMatchesEncodingJSON: the body of a start is what encoding/json gives for
// independently written structs in Fiber's shape, escaping and omitted fields included.
func TestStartBodyMatchesEncodingJSON(t *testing.T) {
	h := &lastBody{}
	c, _ := newTestClient(t, h)
	tests := []struct {
		name   string
		apiKey string
		req    fiber.StartRequest
	}{
		{"no urls", "k", fiber.StartRequest{}},
		{"empty urls", "k", fiber.StartRequest{LinkedInURLs: []string{}}},
		{"plain", testKey, fiber.StartRequest{LinkedInURLs: []string{
			"https://www.linkedin.com/in/jake", "linkedin.com/sales/lead/abc,123?x=1#y",
		}}},
		{"quotes and backslashes", `k"\`, fiber.StartRequest{LinkedInURLs: []string{`a"b\c/d`}}},
		{"control bytes", "k\x00\x01\x1f", fiber.StartRequest{LinkedInURLs: []string{"\b\f\n\r\t\x0b\x7f"}}},
		{"html", "<k>&", fiber.StartRequest{LinkedInURLs: []string{"https://x/in/<script>&amp;"}}},
		{"line separators", "k", fiber.StartRequest{LinkedInURLs: []string{"a\u2028b\u2029c\u2027d\u202a"}}},
		{"unicode", "ключ", fiber.StartRequest{LinkedInURLs: []string{"https://www.linkedin.com/in/jürgen-😀-é"}}},
		{"invalid utf-8", "k\xff", fiber.StartRequest{LinkedInURLs: []string{"a\xc3", "\xe2\x82", "\xed\xa0\x80", "x\x80y", "\xf4\x90\x80\x80"}}},
		{"enrichment all nil", "k", fiber.StartRequest{LinkedInURLs: []string{"u"}, EnrichmentTypes: &fiber.EnrichmentTypes{}}},
		{"enrichment some", "k", fiber.StartRequest{LinkedInURLs: []string{"u"}, EnrichmentTypes: &fiber.EnrichmentTypes{
			PersonalEmails: ptr(false),
		}}},
		{"enrichment last only", "k", fiber.StartRequest{LinkedInURLs: []string{"u"}, EnrichmentTypes: &fiber.EnrichmentTypes{
			PhoneNumbers: ptr(true),
		}}},
		{"enrichment all", "k", fiber.StartRequest{LinkedInURLs: []string{"u", "v"}, EnrichmentTypes: &fiber.EnrichmentTypes{
			WorkEmails: ptr(true), PersonalEmails: ptr(false), PhoneNumbers: ptr(true),
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sentStartBody(t, c, h, tt.apiKey, tt.req)
			if want := refStartJSON(t, tt.apiKey, tt.req); !bytes.Equal(got, want) {
				t.Errorf("body differs from encoding/json's\n got: %s\nwant: %s", got, want)
			}
		})
	}
}

// TestStartBodyEveryByte puts every byte value at every offset of a 17-byte string.
func TestStartBodyEveryByte(t *testing.T) {
	h := &lastBody{}
	c, _ := newTestClient(t, h)
	var all []string
	for b := range 256 {
		for at := range 17 {
			s := []byte("abcdefghijklmnopq")
			s[at] = byte(b)
			all = append(all, string(s))
		}
	}
	req := fiber.StartRequest{LinkedInURLs: all}
	if got, want := sentStartBody(t, c, h, "k", req), refStartJSON(t, "k", req); !bytes.Equal(got, want) {
		t.Errorf("body differs from encoding/json's\n got: %s\nwant: %s", got, want)
	}
}

func TestRequestWireFormat(t *testing.T) {
	tests := []struct {
		name     string
		call     func(context.Context, *fiber.Client) error
		wantPath string
		wantBody string
	}{
		{
			name: "start",
			call: func(ctx context.Context, c *fiber.Client) error {
				_, err := c.Start(ctx, "key-1", fiber.StartRequest{
					LinkedInURLs:    []string{"https://www.linkedin.com/in/jake", "https://www.linkedin.com/in/ann"},
					EnrichmentTypes: &fiber.EnrichmentTypes{WorkEmails: ptr(true), PhoneNumbers: ptr(false)},
				})
				return err
			},
			wantPath: "/v1/contact-details/batch/start",
			wantBody: `{"apiKey":"key-1","personDetails":[{"linkedinUrl":{"value":"https://www.linkedin.com/in/jake"}},` +
				`{"linkedinUrl":{"value":"https://www.linkedin.com/in/ann"}}],"enrichmentTypes":{"getWorkEmails":true,"getPhoneNumbers":false}}`,
		},
		{
			name: "start with one enrichment type",
			call: func(ctx context.Context, c *fiber.Client) error {
				_, err := c.Start(ctx, "k", fiber.StartRequest{
					LinkedInURLs:    []string{"https://www.linkedin.com/in/jake"},
					EnrichmentTypes: &fiber.EnrichmentTypes{PhoneNumbers: ptr(false)},
				})
				return err
			},
			wantPath: "/v1/contact-details/batch/start",
			wantBody: `{"apiKey":"k","personDetails":[{"linkedinUrl":{"value":"https://www.linkedin.com/in/jake"}}],"enrichmentTypes":{"getPhoneNumbers":false}}`,
		},
		{
			name: "start defaults",
			call: func(ctx context.Context, c *fiber.Client) error {
				_, err := c.Start(ctx, "key-1", fiber.StartRequest{LinkedInURLs: []string{"u"}})
				return err
			},
			wantPath: "/v1/contact-details/batch/start",
			wantBody: `{"apiKey":"key-1","personDetails":[{"linkedinUrl":{"value":"u"}}]}`,
		},
		{
			name: "first poll",
			call: func(ctx context.Context, c *fiber.Client) error {
				_, err := c.Poll(ctx, "key-1", fiber.PollRequest{TaskID: "t-1"})
				return err
			},
			wantPath: "/v1/contact-details/batch/poll",
			wantBody: `{"apiKey":"key-1","taskId":"t-1"}`,
		},
		{
			name: "next poll",
			call: func(ctx context.Context, c *fiber.Client) error {
				_, err := c.Poll(ctx, "key-1", fiber.PollRequest{TaskID: "t-1", Cursor: ptr("c\"2"), Take: 50})
				return err
			},
			wantPath: "/v1/contact-details/batch/poll",
			wantBody: `{"apiKey":"key-1","taskId":"t-1","cursor":"c\"2","take":50}`,
		},
		{
			name: "poll empty cursor",
			call: func(ctx context.Context, c *fiber.Client) error {
				_, err := c.Poll(ctx, "key-1", fiber.PollRequest{TaskID: "t-1", Cursor: ptr("")})
				return err
			},
			wantPath: "/v1/contact-details/batch/poll",
			wantBody: `{"apiKey":"key-1","taskId":"t-1","cursor":""}`,
		},
		{
			name: "cancel",
			call: func(ctx context.Context, c *fiber.Client) error {
				_, err := c.Cancel(ctx, "key-1", "t-1")
				return err
			},
			wantPath: "/v1/contact-details/batch/cancel",
			wantBody: `{"apiKey":"key-1","taskId":"t-1"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{status: http.StatusTeapot, body: `{"message":"stop"}`}
			c, _ := newTestClient(t, rec, fiber.WithUserAgent("fibergate-test/1"))
			if err := tt.call(testContext(t), c); fiber.KindOf(err) != fiber.KindProtocol {
				t.Fatalf("call: got %v, want a KindProtocol error", err)
			}
			want := []received{{
				Method:      http.MethodPost,
				Path:        tt.wantPath,
				ContentType: "application/json",
				Accept:      "application/json",
				UserAgent:   "fibergate-test/1",
				Body:        tt.wantBody,
			}}
			if diff := cmp.Diff(want, rec.requests()); diff != "" {
				t.Errorf("requests received (-want +got):\n%s", diff)
			}
			if !json.Valid([]byte(rec.requests()[0].Body)) {
				t.Errorf("body is not valid JSON")
			}
		})
	}
}

// FuzzStartBody holds the body of a start to encoding/json's rendering of the reference
// structs for any key, URLs and enrichment types.
func FuzzStartBody(f *testing.F) {
	h := &lastBody{}
	c, _ := newTestClient(f, h)
	f.Add("sk_live_abc", "https://www.linkedin.com/in/jake", "", uint8(0))
	f.Add(`k"\`, "a\u2028b<>&\x00\x1f\x7f", "\xff\xfe", uint8(0b111111))
	f.Add("", "\xe2\x82", "ünïcödé 😀", uint8(0b010101))
	f.Add("k", "\b\f\n\r\t", "\xed\xa0\x80", uint8(0b100010))
	f.Fuzz(func(t *testing.T, apiKey, url1, url2 string, flags uint8) {
		req := fiber.StartRequest{LinkedInURLs: []string{url1}}
		if flags&1 != 0 {
			req.LinkedInURLs = append(req.LinkedInURLs, url2)
		}
		if flags&2 != 0 {
			// Bits 2..7 pick, per field, nil / true / false.
			pick := func(v uint8) *bool {
				switch v % 3 {
				case 1:
					return ptr(true)
				case 2:
					return ptr(false)
				}
				return nil
			}
			req.EnrichmentTypes = &fiber.EnrichmentTypes{
				WorkEmails: pick(flags >> 2 & 3), PersonalEmails: pick(flags >> 4 & 3), PhoneNumbers: pick(flags >> 6 & 3),
			}
		}
		got := sentStartBody(t, c, h, apiKey, req)
		if !json.Valid(got) {
			t.Fatalf("invalid JSON: %q", got)
		}
		if want := refStartJSON(t, apiKey, req); !bytes.Equal(got, want) {
			t.Fatalf("differs from encoding/json\n got: %q\nwant: %q", got, want)
		}
	})
}
