package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

const servicePrefix = "/fibergate.contactdetails.v1.ContactDetailsService/"

// rawCodec sends and receives protobuf bytes as they are, so a test can send messages no
// generated type would marshal (invalid UTF-8, wrong wire types, truncations).
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, fmt.Errorf("rawCodec: %T is not []byte", v)
	}
	return b, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec: %T is not *[]byte", v)
	}
	*p = append([]byte(nil), data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }

// pbString appends field num as a length-delimited string (or message) to b.
func pbString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// rawStart is a StartBatchRequest with one person of the given LinkedIn URL, built by hand.
func rawStart(url string) []byte {
	return pbString(nil, 2, string(pbString(nil, 1, string(pbString(nil, 1, url)))))
}

// restCall is one REST request of the corpus.
type restCall struct {
	method, path string
	body         []byte
	header       http.Header // sent as is: no Content-Type is added
	chunked      int         // when not 0, the body is this many bytes of JSON sent chunked instead
}

// hostileCase is one entry of the corpus: exactly one of grpc, rest and raw is set.
type hostileCase struct {
	name string
	grpc func(ctx context.Context) error
	rest *restCall
	raw  string // a whole HTTP/1.1 request, written to the REST port as is

	code   codes.Code        // gRPC code, or the code in the REST error body
	http   int               // REST status
	reason string            // the ErrorInfo reason; "" for any (but there must be one)
	field  string            // the BadRequest field violation expected first; "" for none
	md     map[string]string // ErrorInfo metadata expected (among others); nil for none
	// noInfo: gRPC itself answers, before any of fibergate's code runs or (a stream's
	// request) by writing the status of a failed RecvMsg itself, so the status carries no
	// ErrorInfo (message size limit, unparsable request).
	noInfo bool
}

// sendREST sends c to the server and returns the status and body.
func sendREST(t *testing.T, p *proc, c *restCall) (int, []byte) {
	t.Helper()
	if c.chunked != 0 {
		return sendChunked(t, p, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var r io.Reader
	if c.body != nil {
		r = bytes.NewReader(c.body)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, "http://"+p.httpAddr+c.path, r)
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(req.Header, c.header)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// sendRaw writes a raw HTTP/1.1 request to the REST port and reads the answer.
func sendRaw(t *testing.T, p *proc, raw string) (int, []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", p.httpAddr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func jsonHeader() http.Header { return http.Header{"Content-Type": {"application/json"}} }

func postStart(body string, header http.Header) *restCall {
	if header == nil {
		header = jsonHeader()
	}
	return &restCall{method: http.MethodPost, path: "/v1/contact-details/batch/start", body: []byte(body), header: header}
}

func restGet(path string) *restCall { return &restCall{method: http.MethodGet, path: path} }

// nestedJSON returns depth levels of open brackets, inner, and their closing brackets.
func nestedJSON(open, close, inner string, depth int) string {
	return strings.Repeat(open, depth) + inner + strings.Repeat(close, depth)
}

// validStart is a StartBatch body that Fiber would accept.
const validStart = `{"personDetails":[{"linkedinUrl":{"value":"https://www.linkedin.com/in/jake"}}]}`

// rawToken forges a page or resume token: the base64url of s.
func rawToken(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// rawPost is a raw HTTP/1.1 StartBatch with body and the extra header lines (CRLF between
// lines is the caller's).
func rawPost(body, headers string) string {
	return "POST /v1/contact-details/batch/start HTTP/1.1\r\nHost: fibergate\r\nContent-Type: application/json\r\n" +
		headers + "\r\nContent-Length: " + fmt.Sprint(len(body)) + "\r\nConnection: close\r\n\r\n" + body
}

// sendChunked sends c with a body of c.chunked bytes of JSON, streamed without a
// Content-Length.
func sendChunked(t *testing.T, p *proc, c *restCall) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	body := io.MultiReader(strings.NewReader(`{"apiKey":"`), io.LimitReader(repeatReader('k'), int64(c.chunked)), strings.NewReader(`"}`))
	req, err := http.NewRequestWithContext(ctx, c.method, "http://"+p.httpAddr+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(req.Header, c.header)
	req.ContentLength = -1 // unknown: sent chunked
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("chunked %s %s: %v", c.method, c.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// repeatReader reads an endless run of one byte.
type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

func mustProtoJSON(t *testing.T, req *cdv1.StartBatchRequest) string {
	t.Helper()
	b, err := protojson.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func checkRESTError(t *testing.T, c hostileCase, code int, body []byte) {
	t.Helper()
	if code != c.http {
		t.Errorf("HTTP %d, want %d: %.300s", code, c.http, body)
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		t.Errorf("the error body is not a JSON status: %.300s", body)
		return
	}
	checkStatus(t, c, restStatus(t, body))
}

func checkStatus(t *testing.T, c hostileCase, st *status.Status) {
	t.Helper()
	if st.Code() != c.code {
		t.Errorf("code %v (%.300q), want %v", st.Code(), st.Message(), c.code)
		return
	}
	ei := errorInfo(st)
	switch {
	case c.noInfo:
		if ei != nil {
			t.Errorf("ErrorInfo %v: the case says gRPC answers it alone; update the case and the README's list of exceptions", ei)
		}
	case ei == nil || ei.GetDomain() != "fibergate" || ei.GetReason() == "":
		t.Errorf("no fibergate ErrorInfo (%.300q): every error must carry one", st.Message())
	case c.reason != "" && ei.GetReason() != c.reason:
		t.Errorf("ErrorInfo %v (%.300q), want reason %s", ei, st.Message(), c.reason)
	}
	for k, v := range c.md {
		if got := ei.GetMetadata()[k]; got != v {
			t.Errorf("ErrorInfo metadata %s = %q, want %q (%v)", k, got, v, ei)
		}
	}
	if st.Code() == codes.InvalidArgument && !c.noInfo && len(fieldViolations(st)) == 0 {
		t.Errorf("INVALID_ARGUMENT without a BadRequest (%.300q): every one must carry one", st.Message())
	}
	if c.field != "" {
		got := fieldViolations(st)
		if len(got) == 0 || got[0] != c.field {
			t.Errorf("field violations %q (%.300q), want %q first", got, st.Message(), c.field)
		}
	}
	if len(st.Message()) > 4<<10 {
		t.Errorf("the error message is %d bytes long: it echoes the input", len(st.Message()))
	}
}
