//go:build linux

package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

// pid is the server process's id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// openFiles counts the server's open file descriptors.
func (p *proc) openFiles(t testing.TB) int {
	t.Helper()
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.pid()))
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// memoryKiB reads a field of the server's /proc status in KiB: "VmRSS" (resident now) or
// "VmHWM" (the peak resident so far).
func (p *proc) memoryKiB(t testing.TB, field string) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid()))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatalf("%s: %q: %v", field, line, err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, p.pid())
	return 0
}

// limitOpenFiles sets the server's file limit (soft and hard), as `prlimit --pid PID
// --nofile=n:n` does: the process then gets EMFILE for its n+1st descriptor.
func (p *proc) limitOpenFiles(t testing.TB, n int) {
	t.Helper()
	lim := unix.Rlimit{Cur: uint64(n), Max: uint64(n)}
	if err := unix.Prlimit(p.pid(), unix.RLIMIT_NOFILE, &lim, nil); err != nil {
		t.Fatalf("prlimit --nofile=%d: %v", n, err)
	}
}

// waitFor polls cond, with a pause between looks, until it holds or 60s pass (which fails
// the test). It polls because what it waits for is the server's state, not an event.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 60s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkServes is how every hostile-transport case ends: gRPC health over a new connection,
// GET /healthz, and a StartBatch over each transport all succeed. authz, if not "", is sent as
// the authorization of the starts.
func checkServes(t *testing.T, p *proc, authz string) {
	t.Helper()
	conn, err := grpc.NewClient(p.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc, err := healthpb.NewHealthClient(conn).Check(testContext(t), &healthpb.HealthCheckRequest{})
	if err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("gRPC health: %v, %v", hc, err)
	}
	if code, _, body := p.rest(t, http.MethodGet, "/healthz", nil, nil); code != http.StatusOK {
		t.Errorf("GET /healthz: HTTP %d %s", code, body)
	}
	if _, err := cdv1.NewContactDetailsServiceClient(conn).StartBatch(withAuthorization(testContext(t), authz), oneStart()); err != nil {
		t.Errorf("a gRPC StartBatch: %v", err)
	}
	if code, _, body := p.rest(t, http.MethodPost, "/v1/contact-details/batch/start", []byte(validStart), authHeader(authz)); code != http.StatusOK {
		t.Errorf("a REST StartBatch: HTTP %d %s", code, body)
	}
}

// slowClient is a REST request whose headers are sent whole and whose body is sent a byte at
// a time, by trickle.
type slowClient struct {
	conn   net.Conn
	closed chan struct{} // closed when the server has closed the connection
	answer []byte        // what the server wrote before closing; read after closed
	err    error         // the read error that ended the connection, if not EOF
}

// dialSlowClient connects to the REST port, sends the headers of a StartBatch announcing a
// 1000-byte body and its first byte, and reads whatever comes back until the server closes
// the connection (or 3 min pass).
func dialSlowClient(ctx context.Context, addr string) (*slowClient, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if err := conn.SetReadDeadline(time.Now().Add(3 * time.Minute)); err != nil {
		conn.Close()
		return nil, err
	}
	head := "POST /v1/contact-details/batch/start HTTP/1.1\r\nHost: fibergate\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
	if _, err := io.WriteString(conn, head); err != nil {
		conn.Close()
		return nil, err
	}
	c := &slowClient{conn: conn, closed: make(chan struct{})}
	go func() {
		defer close(c.closed)
		var b bytes.Buffer
		_, c.err = io.Copy(&b, conn)
		c.answer = b.Bytes()
	}()
	return c, nil
}

// trickle sends the next byte of the body; it fails once the server has hung up.
func (c *slowClient) trickle() error {
	_, err := c.conn.Write([]byte(" "))
	return err
}

// status is the HTTP status of the server's answer, 0 if none.
func (c *slowClient) status() int {
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(c.answer)), nil)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// h2Outcome is how the server ended a raw HTTP/2 request.
type h2Outcome struct {
	rst      http2.ErrCode // RST_STREAM's code, if the stream was reset
	goAway   bool          // the server sent GOAWAY
	closed   bool          // the server closed the connection
	response bool          // the server answered with HEADERS
}

func (o h2Outcome) String() string {
	return fmt.Sprintf("rst=%v goaway=%v closed=%v response=%v", o.rst, o.goAway, o.closed, o.response)
}

// rawGRPCHeaders sends one gRPC call, GRPC health Check, to addr over a raw HTTP/2
// connection, with the given extra metadata, ignoring the server's settings (as a hostile
// client would), and reports how the server ended it. Frames are written while the answer is
// read: a server refusing the headers may stop reading them.
func rawGRPCHeaders(t *testing.T, addr string, extra ...hpack.HeaderField) h2Outcome {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(60 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	fields := append([]hpack.HeaderField{
		{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "http"},
		{Name: ":path", Value: "/grpc.health.v1.Health/Check"}, {Name: ":authority", Value: addr},
		{Name: "content-type", Value: "application/grpc"}, {Name: "te", Value: "trailers"},
	}, extra...)
	for _, f := range fields {
		if err := enc.WriteField(f); err != nil {
			t.Fatal(err)
		}
	}
	go func() { // ends with an error once the server hangs up
		if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
			return
		}
		fr := http2.NewFramer(conn, nil)
		if fr.WriteSettings() != nil {
			return
		}
		const frameSize = 16 << 10 // the default SETTINGS_MAX_FRAME_SIZE
		b := block.Bytes()
		first := b[:min(len(b), frameSize)]
		b = b[len(first):]
		if fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: first, EndHeaders: len(b) == 0}) != nil {
			return
		}
		for len(b) > 0 {
			frag := b[:min(len(b), frameSize)]
			b = b[len(frag):]
			if fr.WriteContinuation(1, len(b) == 0, frag) != nil {
				return
			}
		}
		fr.WriteData(1, true, []byte{0, 0, 0, 0, 0}) // an empty HealthCheckRequest
	}()
	fr := http2.NewFramer(io.Discard, conn)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	var out h2Outcome
	for range 1000 {
		f, err := fr.ReadFrame()
		if err != nil {
			out.closed = true
			return out
		}
		switch f := f.(type) {
		case *http2.RSTStreamFrame:
			out.rst = f.ErrCode
			return out
		case *http2.GoAwayFrame:
			out.goAway = true
			return out
		case *http2.MetaHeadersFrame:
			out.response = true
			return out
		}
	}
	t.Fatal("no end of the raw HTTP/2 call in 1000 frames")
	return out
}

// rawGRPCCall sends one gRPC call of method to addr over HTTP/2 with header (content-type
// and te are added) and body (whole length-prefixed messages, compressed or not, as they go
// on the wire), and returns the call's status code and message.
func rawGRPCCall(t *testing.T, addr, method string, header http.Header, body []byte) (codes.Code, string) {
	t.Helper()
	tr := &http2.Transport{
		AllowHTTP: true, // h2c: the gRPC port here is plaintext
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(testContext(t), http.MethodPost, "http://"+addr+method, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(req.Header, header)
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("raw gRPC %s: %v", method, err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatalf("raw gRPC %s: reading the answer: %v", method, err)
	}
	get := func(k string) string {
		if v := resp.Trailer.Get(k); v != "" {
			return v
		}
		return resp.Header.Get(k) // a trailers-only answer
	}
	n, err := strconv.Atoi(get("Grpc-Status"))
	if err != nil {
		t.Fatalf("raw gRPC %s: HTTP %d without a grpc-status (%v, %v)", method, resp.StatusCode, resp.Header, resp.Trailer)
	}
	msg, _ := url.PathUnescape(get("Grpc-Message"))
	return codes.Code(n), msg
}

// gzipFrame is one gRPC message frame, compressed flag set, that inflates to mib MiB of
// zeros: as many gzip members of 1 MiB each (about 1 KB compressed), one after the other, as
// gzip allows and a gzip reader inflates as one stream.
func gzipFrame(t testing.TB, mib int) []byte {
	t.Helper()
	var member bytes.Buffer
	zw, err := gzip.NewWriterLevel(&member, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	payload := bytes.Repeat(member.Bytes(), mib)
	frame := []byte{1, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(frame[1:], uint32(len(payload)))
	return append(frame, payload...)
}

// restWithHeader sends GET /healthz with the extra header line to the REST port and returns
// the answer's status. The request is written while the answer is read: a server refusing the
// headers answers and hangs up before it has read them all.
func restWithHeader(t *testing.T, p *proc, header string) int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", p.httpAddr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	go io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: fibergate\r\n"+header+"\r\nConnection: close\r\n\r\n") // fails once the server hangs up
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("GET /healthz with a %d-byte header: %v", len(header), err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
