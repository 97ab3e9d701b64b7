package auth

import (
	"context"
	"strings"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	grpcauth "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"google.golang.org/grpc"

	"github.com/fibergate/fibergate/internal/apierr"
)

// Exempt reports the RPCs callable without a token: health checks and, when reflection is
// true, server reflection.
func Exempt(reflection bool) func(fullMethod string) bool {
	return func(m string) bool {
		return strings.HasPrefix(m, "/grpc.health.v1.Health/") ||
			reflection && strings.HasPrefix(m, "/grpc.reflection.")
	}
}

// AuthFunc authenticates a call by its "authorization: Bearer TOKEN" metadata (the REST
// gateway forwards the HTTP header as is) and puts the principal in the context. A call
// without a token, or with one that matches no principal, fails with apierr.ErrUnauthenticated,
// which the error interceptor outside turns into UNAUTHENTICATED.
func (t *Tokens) AuthFunc(ctx context.Context) (context.Context, error) {
	token, err := grpcauth.AuthFromMD(ctx, "bearer")
	if err != nil {
		// err is a status naming the missing scheme; the caller hears no more than that the
		// token is missing or invalid.
		return nil, apierr.ErrUnauthenticated
	}
	p, err := t.Principal(token)
	if err != nil {
		return nil, err
	}
	return WithPrincipal(ctx, p), nil
}

// UnaryInterceptor authenticates every unary call except the exempt ones, with
// go-grpc-middleware's auth interceptor. Install it inside apierr.UnaryErrorInterceptor.
func (t *Tokens) UnaryInterceptor(exempt func(string) bool) grpc.UnaryServerInterceptor {
	return selector.UnaryServerInterceptor(grpcauth.UnaryServerInterceptor(t.AuthFunc), needsAuth(exempt))
}

// StreamInterceptor is UnaryInterceptor for streams. Install it inside
// apierr.StreamErrorInterceptor.
func (t *Tokens) StreamInterceptor(exempt func(string) bool) grpc.StreamServerInterceptor {
	return selector.StreamServerInterceptor(grpcauth.StreamServerInterceptor(t.AuthFunc), needsAuth(exempt))
}

func needsAuth(exempt func(string) bool) selector.Matcher {
	return selector.MatchFunc(func(_ context.Context, c interceptors.CallMeta) bool { return !exempt(c.FullMethod()) })
}
