package server

import (
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
	"google.golang.org/grpc"
	// Registers the gzip compressor with grpc-go, so that clients that compress their requests
	// (grpc-js, Python and Java can be told to) are served. A compressed message is refused
	// once it inflates past MaxBodyBytes (grpc.MaxRecvMsgSize bounds the inflated size, and
	// grpc-go stops inflating there).
	_ "google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/keepalive"

	"github.com/fibergate/fibergate/internal/gateway"
)

// Defaults of the transport limits in Config.
const (
	// DefaultMaxHeaderBytes is net/http's own default for REST headers, made explicit and
	// applied to gRPC metadata too.
	DefaultMaxHeaderBytes = 1 << 20
	// DefaultReadTimeout gives a maximal REST body (gateway.DefaultMaxBodyBytes) time to arrive
	// at 1.7 Mbit/s.
	DefaultReadTimeout = 30 * time.Second
	// DefaultMaxHTTPConns keeps the REST port well under a file limit of 1024, the smallest
	// common one, so that REST clients cannot take the descriptors the gRPC port needs.
	DefaultMaxHTTPConns = 512
	// DefaultMaxStreamsPerConn is ten times the default watch streams a caller may hold.
	DefaultMaxStreamsPerConn = 1000
)

// The gRPC port's keepalive rules. Clients may ping every 10s, with or without a call open,
// so that long WatchTask streams survive load balancers and NATs that drop quiet
// connections (grpc-go's default answers pings more often than every 5 min with GOAWAY
// "too_many_pings"). The server pings a connection quiet for 30s and closes it when the ack
// does not come within 20s, so the stream slots of a vanished client are freed; a connection
// with no call for 5 min is closed (GOAWAY: clients reconnect when they next call).
const (
	keepaliveMinTime   = 10 * time.Second
	keepaliveTime      = 30 * time.Second
	keepaliveTimeout   = 20 * time.Second
	keepaliveIdleLimit = 5 * time.Minute
)

// headerTimeout bounds the arrival of a REST request's headers.
const headerTimeout = 10 * time.Second

// withDefaults fills in the zero values of c.
func (c Config) withDefaults() Config {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = gateway.DefaultMaxBodyBytes
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 10 * time.Second
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.MaxHTTPConns <= 0 {
		c.MaxHTTPConns = DefaultMaxHTTPConns
	}
	if c.MaxStreamsPerConn == 0 {
		c.MaxStreamsPerConn = DefaultMaxStreamsPerConn
	}
	return c
}

// transportOptions are the network gRPC server's limits (the gateway's in-memory server has
// none: it serves one local client, whose REST callers the HTTP server limits).
//
// Metadata over MaxHeaderBytes is refused by the transport before any handler runs: the
// stream is reset with FRAME_SIZE_ERROR (INTERNAL to the caller), or the connection closed
// when the headers are far larger; grpc-go clients see the limit in the server's settings and
// refuse to send, with INTERNAL. A call beyond MaxStreamsPerConn waits in the client until
// one of the connection's calls ends.
func transportOptions(c Config) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxHeaderListSize(uint32(c.MaxHeaderBytes)),
		grpc.MaxConcurrentStreams(c.MaxStreamsPerConn),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: keepaliveMinTime, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle: keepaliveIdleLimit, Time: keepaliveTime, Timeout: keepaliveTimeout,
		}),
	}
}

// httpListener caps lis at c.MaxHTTPConns open connections: further ones wait in the kernel's
// listen queue, holding no file descriptor of the process, until one closes.
func httpListener(lis net.Listener, c Config) net.Listener {
	return netutil.LimitListener(lis, c.MaxHTTPConns)
}

// newHTTPServer is the REST port's server. A request's headers must arrive within 10s (or
// ReadTimeout if shorter) and fit MaxHeaderBytes (431 otherwise), and the whole request within
// ReadTimeout: reading a body past it fails, which the gateway answers with 408 before
// net/http closes the connection. ReadTimeout does not cut a long response such as WatchTask's
// stream: net/http clears the read deadline once the body has been read (or at once, for a
// request without one) to watch for the client going away. There is no write timeout, so that
// WatchTask can stream for as long as its task runs; an idle keep-alive connection is closed
// after 2 min.
func newHTTPServer(c Config, handler http.Handler) *http.Server {
	return &http.Server{
		Handler:           handler,
		TLSConfig:         c.TLS,
		ReadHeaderTimeout: min(headerTimeout, c.ReadTimeout),
		ReadTimeout:       c.ReadTimeout,
		MaxHeaderBytes:    c.MaxHeaderBytes,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(c.Logger.Handler(), slog.LevelWarn),
	}
}
