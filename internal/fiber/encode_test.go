package fiber_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fibergate/fibergate/internal/fiber"
)

func TestAppendStartBodyMatchesEncodingJSON(t *testing.T) {
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
			got := fiber.AppendStartBody(nil, tt.apiKey, tt.req)
			want := refStartJSON(t, tt.apiKey, tt.req)
			if !bytes.Equal(got, want) {
				t.Errorf("AppendStartBody differs from encoding/json\n got: %s\nwant: %s", got, want)
			}
			prefix := []byte("prefix")
			if got := fiber.AppendStartBody(prefix, tt.apiKey, tt.req); !bytes.Equal(got, append(prefix, want...)) {
				t.Errorf("AppendStartBody does not append to dst: %s", got)
			}
		})
	}
}

// TestAppendStartBodyEveryByte puts every byte value at every offset of a 17-byte string, so
// that both the eight-bytes-at-a-time path and the tail see it.
func TestAppendStartBodyEveryByte(t *testing.T) {
	var all []string
	for b := range 256 {
		for at := range 17 {
			s := []byte("abcdefghijklmnopq")
			s[at] = byte(b)
			all = append(all, string(s))
		}
	}
	req := fiber.StartRequest{LinkedInURLs: all}
	if got, want := fiber.AppendStartBody(nil, "k", req), refStartJSON(t, "k", req); !bytes.Equal(got, want) {
		t.Errorf("AppendStartBody differs from encoding/json\n got: %s\nwant: %s", got, want)
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

// benchURLs returns n distinct, realistic profile URLs.
func benchURLs(n int) []string {
	urls := make([]string, n)
	for i := range urls {
		urls[i] = fmt.Sprintf("https://www.linkedin.com/in/person-%06d-a1b2c3/", i)
	}
	return urls
}

func BenchmarkStartBody(b *testing.B) {
	req := fiber.StartRequest{
		LinkedInURLs:    benchURLs(2000),
		EnrichmentTypes: &fiber.EnrichmentTypes{WorkEmails: ptr(true), PersonalEmails: ptr(false), PhoneNumbers: ptr(true)},
	}
	// One buffer reused across bodies.
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf = fiber.AppendStartBody(buf[:0], testKey, req)
		}
		b.SetBytes(int64(len(buf)))
	})
	// A new buffer of the right size per body, as Start does.
	b.Run("append_new_buffer", func(b *testing.B) {
		b.ReportAllocs()
		size := len(fiber.AppendStartBody(nil, testKey, req))
		for b.Loop() {
			fiber.AppendStartBody(make([]byte, 0, size), testKey, req)
		}
		b.SetBytes(int64(size))
	})
	// json.Marshal of the equivalent structs, built once outside the loop.
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		body := refStartBody{APIKey: testKey, PersonDetails: make([]refPerson, len(req.LinkedInURLs)),
			EnrichmentTypes: &refEnrichments{GetWorkEmails: ptr(true), GetPersonalEmails: ptr(false), GetPhoneNumbers: ptr(true)}}
		for i, u := range req.LinkedInURLs {
			body.PersonDetails[i].LinkedinURL.Value = u
		}
		var n int
		for b.Loop() {
			out, err := json.Marshal(body)
			if err != nil {
				b.Fatal(err)
			}
			n = len(out)
		}
		b.SetBytes(int64(n))
	})
}

func FuzzAppendStartBody(f *testing.F) {
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
		got := fiber.AppendStartBody(nil, apiKey, req)
		if !json.Valid(got) {
			t.Fatalf("invalid JSON: %q", got)
		}
		if want := refStartJSON(t, apiKey, req); !bytes.Equal(got, want) {
			t.Fatalf("differs from encoding/json\n got: %q\nwant: %q", got, want)
		}
	})
}
