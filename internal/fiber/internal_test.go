package fiber

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptrace"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		v    string
		want time.Duration
	}{
		{"", 0},
		{"3", 3 * time.Second},
		{" 3 ", 3 * time.Second},
		{"0", 0},
		{"-3", 0},
		{"3s", 0},
		{"1.5", 0},
		{"86399", 86399 * time.Second},
		{"86400", 24 * time.Hour},
		{"18446744073709551615", 24 * time.Hour},
		{"18446744073709551616", 24 * time.Hour},
		{"Sun, 01 Mar 2026 12:00:30 GMT", 30 * time.Second},
		{"Sunday, 01-Mar-26 12:01:00 GMT", time.Minute},
		{"Sun Mar  1 12:00:05 2026", 5 * time.Second},
		{"Sun, 01 Mar 2026 11:00:00 GMT", 0},
		{"Mon, 01 Mar 2027 12:00:00 GMT", 24 * time.Hour},
		{"Sun, 01 Mar 2026 12:00:30 +0100", 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.v, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
}

func TestSendTraceState(t *testing.T) {
	tests := []struct {
		name                    string
		events                  func(*sendTrace)
		wantSent, wantConnected bool
	}{
		{"no events", func(*sendTrace) {}, true, false},
		{"dial failed", func(s *sendTrace) { s.clientTrace().GetConn("h") }, false, false},
		{"connected", func(s *sendTrace) {
			tr := s.clientTrace()
			tr.GetConn("h")
			tr.GotConn(httptrace.GotConnInfo{})
		}, false, true},
		{"headers out", func(s *sendTrace) {
			tr := s.clientTrace()
			tr.GetConn("h")
			tr.WroteHeaders()
		}, true, false},
		{"write failed", func(s *sendTrace) {
			tr := s.clientTrace()
			tr.GetConn("h")
			tr.WroteHeaders()
			tr.WroteRequest(httptrace.WroteRequestInfo{Err: errors.New("broken pipe")})
		}, false, false},
		{"written then retried", func(s *sendTrace) {
			tr := s.clientTrace()
			tr.GetConn("h")
			tr.WroteRequest(httptrace.WroteRequestInfo{})
			tr.GetConn("h")
		}, true, false},
	}
	for _, tt := range tests {
		s := &sendTrace{}
		tt.events(s)
		if sent, conn := s.state(); sent != tt.wantSent || conn != tt.wantConnected {
			t.Errorf("%s: state() = %v, %v; want %v, %v", tt.name, sent, conn, tt.wantSent, tt.wantConnected)
		}
	}
}

// BenchmarkStartBody measures the encoding of a 2000-URL start body, as Client.Start does it.
func BenchmarkStartBody(b *testing.B) {
	urls := make([]string, 2000)
	for i := range urls {
		urls[i] = fmt.Sprintf("https://www.linkedin.com/in/person-%06d-a1b2c3/", i)
	}
	yes, no := true, false
	req := StartRequest{LinkedInURLs: urls, EnrichmentTypes: &EnrichmentTypes{WorkEmails: &yes, PersonalEmails: &no, PhoneNumbers: &yes}}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		body, err := json.Marshal(newStartRequestWire("sk_test_4f9d2c7a1b8e6f30", req))
		if err != nil {
			b.Fatal(err)
		}
		n = len(body)
	}
	b.SetBytes(int64(n))
}
