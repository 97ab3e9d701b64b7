// Package server runs fibergate's network front: the gRPC server (with reflection, the standard
// health service and the interceptor chain) and the REST gateway on its own port, with a clean
// start and a graceful stop.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"slices"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	pvinterceptor "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/protovalidate"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/apierr"
	"github.com/fibergate/fibergate/internal/auth"
	"github.com/fibergate/fibergate/internal/gateway"
	"github.com/fibergate/fibergate/internal/redact"
	"github.com/fibergate/fibergate/internal/validation"
)

// Readiness tells whether the service can do its work. *health.Monitor implements it, for
// the store.
type Readiness interface {
	// Up reports whether the service can do its work now, and returns a channel closed when
	// that changes.
	Up() (up bool, changed <-chan struct{})
}

// Config configures a Server.
type Config struct {
	// GRPCAddr and HTTPAddr are the listen addresses, e.g. ":9090" or "127.0.0.1:0".
	GRPCAddr, HTTPAddr string
	// Service handles the RPCs. Required.
	Service cdv1.ContactDetailsServiceServer
	// Readiness, if not nil, is the service's readiness: while it is down, the health status
	// of the ContactDetailsService (and GET /healthz) is NOT_SERVING, and SERVING again once
	// it is up. The server's own status, "" (liveness, and GET /livez), stays SERVING until
	// shutdown either way. Nil means always ready.
	Readiness Readiness
	// Logger receives one line per call and the server's lifecycle. Required.
	Logger *slog.Logger
	// MaxBodyBytes caps REST bodies and gRPC messages. Zero means gateway.DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// ShutdownTimeout bounds the graceful stop; then open streams are cut. Zero means 10s.
	ShutdownTimeout time.Duration
	// ReadTimeout is how long a REST request, headers and body, may take to arrive (its headers
	// get at most 10s of it); a slower body is answered 408 and its connection closed. Zero
	// means DefaultReadTimeout.
	ReadTimeout time.Duration
	// MaxHeaderBytes caps a request's headers: REST headers (431 above it) and gRPC metadata
	// (the call is reset, see transportOptions). Zero means DefaultMaxHeaderBytes.
	MaxHeaderBytes int
	// MaxHTTPConns caps the REST port's open connections; more wait in the listen queue. Zero
	// means DefaultMaxHTTPConns.
	MaxHTTPConns int
	// MaxStreamsPerConn caps the concurrent calls (streams) of one gRPC connection; a client
	// waits for a free one. Zero means DefaultMaxStreamsPerConn.
	MaxStreamsPerConn uint32
	// Secrets are masked in every error a caller receives; nil masks nothing.
	Secrets *redact.Secrets
	// Tokens authenticates callers; nil turns authentication off.
	Tokens *auth.Tokens
	// OpenReflection lets reflection be used without a token. Health always is, and so is
	// reflection about the health service.
	OpenReflection bool
	// TLS, if not nil, serves both listeners over TLS; with ClientCAs and
	// tls.RequireAndVerifyClientCert it is mutual TLS.
	TLS *tls.Config
	// Unary and Stream are interceptors that go outside all others (metrics), so that they see
	// every call, as the caller gets it.
	Unary  []grpc.UnaryServerInterceptor
	Stream []grpc.StreamServerInterceptor
}

// Server is fibergate's gRPC server and REST gateway. Create it with New and run it once with
// Run; GetServiceInfo may be called at any time.
type Server struct {
	cfg      Config
	grpc     *grpc.Server // the network listener's
	internal *grpc.Server // the gateway's, in memory and without TLS
	health   *health.Server
}

// GetServiceInfo lists the services of the network listener's gRPC server, so that metrics
// can be initialised for every method.
func (s *Server) GetServiceInfo() map[string]grpc.ServiceInfo { return s.grpc.GetServiceInfo() }

// New builds the gRPC server. Nothing listens until Run.
func New(cfg Config) (*Server, error) {
	if cfg.Service == nil || cfg.Logger == nil {
		return nil, errors.New("server: Service and Logger are required")
	}
	cfg = cfg.withDefaults()
	validator, err := validation.New()
	if err != nil {
		return nil, fmt.Errorf("server: validation: %w", err)
	}
	log := logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		cfg.Logger.Log(ctx, slog.Level(lvl), msg, fields...)
	})
	logOpts := []logging.Option{logging.WithLogOnEvents(logging.FinishCall)}
	recoverOpts := []recovery.Option{recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		// The panic value may hold request data or secrets: log its type only. The stack
		// holds no string contents.
		method, _ := grpc.Method(ctx)
		cfg.Logger.ErrorContext(ctx, "handler panicked", "method", method, "panic_type", fmt.Sprintf("%T", p), "stack", string(debug.Stack()))
		return apierr.ErrPanic
	})}
	// Order, outside in: logging sees every call's final status (one line per call, panics
	// included); the error interceptor is the one place where errors become statuses (each
	// with its ErrorInfo, secrets masked); inside it, recovery turns a panic into
	// apierr.ErrPanic, authentication fails with apierr.ErrUnauthenticated, validation and the
	// handlers return domain errors.
	unary := append(slices.Clone(cfg.Unary),
		logging.UnaryServerInterceptor(log, logOpts...),
		apierr.UnaryErrorInterceptor(cfg.Secrets),
		recovery.UnaryServerInterceptor(recoverOpts...),
	)
	stream := append(slices.Clone(cfg.Stream),
		logging.StreamServerInterceptor(log, logOpts...),
		apierr.StreamErrorInterceptor(cfg.Secrets),
		recovery.StreamServerInterceptor(recoverOpts...),
	)
	if cfg.Tokens != nil {
		// Reflection is left out of the token check: it is open, or healthReflection lets
		// callers without a token ask about the health service alone.
		exempt := auth.Exempt(true)
		unary = append(unary, cfg.Tokens.UnaryInterceptor(exempt))
		stream = append(stream, cfg.Tokens.StreamInterceptor(exempt))
		if !cfg.OpenReflection {
			stream = append(stream, healthReflection(cfg.Tokens))
		}
	}
	unary = append(unary, pvinterceptor.UnaryServerInterceptor(validator))
	stream = append(stream, pvinterceptor.StreamServerInterceptor(validator))
	contract, err := contractFiles()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, health: health.NewServer()}
	newServer := func(extra ...grpc.ServerOption) *grpc.Server {
		opts := append([]grpc.ServerOption{
			grpc.MaxRecvMsgSize(int(cfg.MaxBodyBytes)),
			grpc.ChainUnaryInterceptor(unary...),
			grpc.ChainStreamInterceptor(stream...),
			// Unknown services and methods go through the stream interceptors too, and so get
			// an ErrorInfo; registered ones (health, reflection) never reach it.
			grpc.UnknownServiceHandler(apierr.UnknownMethod),
		}, extra...)
		g := grpc.NewServer(opts...)
		cdv1.RegisterContactDetailsServiceServer(g, cfg.Service)
		healthpb.RegisterHealthServer(g, s.health)
		registerReflection(g, contract)
		return g
	}
	network := transportOptions(cfg)
	if cfg.TLS != nil {
		network = append(network, grpc.Creds(credentials.NewTLS(cfg.TLS)))
	}
	s.grpc = newServer(network...)
	s.internal = newServer()
	return s, nil
}

// Run listens on both addresses and serves until ctx is done, then stops gracefully: health
// turns NOT_SERVING, the REST server and in-flight RPCs get ShutdownTimeout to finish, and
// Run returns. ready, if not nil, is called with the bound addresses once both listen.
func (s *Server) Run(ctx context.Context, ready func(grpcAddr, httpAddr net.Addr)) error {
	var lc net.ListenConfig
	grpcLis, err := lc.Listen(ctx, "tcp", s.cfg.GRPCAddr)
	if err != nil {
		return fmt.Errorf("listen grpc: %w", err)
	}
	tcpLis, err := lc.Listen(ctx, "tcp", s.cfg.HTTPAddr)
	if err != nil {
		grpcLis.Close()
		return fmt.Errorf("listen http: %w", err)
	}
	httpLis := httpListener(tcpLis, s.cfg)
	// The gateway reaches the gRPC server in memory, through the same interceptors.
	inMem := newPipeListener()
	conn, err := grpc.NewClient("passthrough:///fibergate-in-memory",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return inMem.Dial(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(int(s.cfg.MaxBodyBytes)), grpc.MaxCallSendMsgSize(int(s.cfg.MaxBodyBytes))),
	)
	if err != nil {
		grpcLis.Close()
		httpLis.Close()
		return fmt.Errorf("gateway client: %w", err)
	}
	defer conn.Close()
	gwCtx, stopGateway := context.WithCancel(context.WithoutCancel(ctx))
	defer stopGateway()
	gw, err := gateway.New(gwCtx, conn, gateway.Config{MaxBodyBytes: s.cfg.MaxBodyBytes})
	if err != nil {
		grpcLis.Close()
		httpLis.Close()
		return err
	}
	httpSrv := newHTTPServer(s.cfg, gw)

	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	readinessChanged := s.setReadiness()
	s.cfg.Logger.Info("fibergate listening", "grpc_addr", grpcLis.Addr().String(), "http_addr", httpLis.Addr().String())
	if ready != nil {
		ready(grpcLis.Addr(), httpLis.Addr())
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		s.followReadiness(gctx, readinessChanged)
		return nil
	})
	g.Go(func() error { return ignoreClosed(s.grpc.Serve(grpcLis)) })
	g.Go(func() error { return ignoreClosed(s.internal.Serve(inMem)) })
	g.Go(func() error {
		if s.cfg.TLS != nil {
			return ignoreClosed(httpSrv.ServeTLS(httpLis, "", ""))
		}
		return ignoreClosed(httpSrv.Serve(httpLis))
	})
	g.Go(func() error {
		<-gctx.Done()
		s.cfg.Logger.Info("fibergate shutting down")
		s.health.Shutdown()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
		defer cancel()
		httpErr := httpSrv.Shutdown(sctx)
		stopGateway()
		s.gracefulStop(sctx, s.grpc)
		s.gracefulStop(sctx, s.internal)
		return httpErr
	})
	return g.Wait()
}

// setReadiness sets the ContactDetailsService's health status from Config.Readiness and
// returns the channel closed when that changes (nil without Readiness: never).
func (s *Server) setReadiness() <-chan struct{} {
	up, changed := true, (<-chan struct{})(nil)
	if s.cfg.Readiness != nil {
		up, changed = s.cfg.Readiness.Up()
	}
	st := healthpb.HealthCheckResponse_SERVING
	if !up {
		st = healthpb.HealthCheckResponse_NOT_SERVING
	}
	s.health.SetServingStatus(cdv1.ContactDetailsService_ServiceDesc.ServiceName, st)
	return changed
}

// followReadiness sets the service's health status again whenever changed is closed, until
// ctx ends. Once the health server has shut down, its statuses stay NOT_SERVING.
func (s *Server) followReadiness(ctx context.Context, changed <-chan struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
			changed = s.setReadiness()
		}
	}
}

// gracefulStop lets in-flight RPCs finish until ctx ends, then cuts them.
func (s *Server) gracefulStop(ctx context.Context, g *grpc.Server) {
	done := make(chan struct{})
	go func() {
		g.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		g.Stop()
		<-done
	}
}

func ignoreClosed(err error) error {
	if err == nil || errors.Is(err, http.ErrServerClosed) || errors.Is(err, grpc.ErrServerStopped) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
