// Package fiber is a typed client for Fiber AI's batch contact-details API: it starts a batch
// (Start), pages through its results (Poll) and cancels it (Cancel) over net/http.
//
// Every call is one HTTP attempt bounded by the caller's context and a per-attempt timeout.
// Failures come back as *Error, whose Kind tells what is known about the outcome (in
// particular KindOutcomeUnknown: a start that may have created and charged a task), except
// that a context that ends before the request is sent comes back wrapped as it is. The API key travels in the request body and never appears in
// an error; KeyID gives a safe identifier of it for logs and metrics. The package never logs.
package fiber

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Endpoint names one operation of the upstream API. It is carried in errors and passed to the
// Retrier's Limiter, so that rate limits can be kept per endpoint.
type Endpoint string

// The three operations of the batch contact-details API.
const (
	// EndpointStart starts a batch: POST /v1/contact-details/batch/start. It costs credits.
	EndpointStart Endpoint = "start"
	// EndpointPoll reads progress and a page of results: POST /v1/contact-details/batch/poll.
	EndpointPoll Endpoint = "poll"
	// EndpointCancel cancels the unclaimed part of a batch: POST /v1/contact-details/batch/cancel.
	EndpointCancel Endpoint = "cancel"
)

// Path returns the URL path of the endpoint, relative to the API's base URL, or "" for an
// Endpoint that is not one of the constants above.
func (e Endpoint) Path() string {
	switch e {
	case EndpointStart:
		return "/v1/contact-details/batch/start"
	case EndpointPoll:
		return "/v1/contact-details/batch/poll"
	case EndpointCancel:
		return "/v1/contact-details/batch/cancel"
	}
	return ""
}

// DefaultTimeout bounds one HTTP attempt, body included, when WithTimeout is not given.
const DefaultTimeout = 30 * time.Second

// DefaultUserAgent is the User-Agent header sent when WithUserAgent is not given.
const DefaultUserAgent = "fibergate-fiber-client"

// maxResponseBytes caps how much of a response body is read.
const maxResponseBytes = 32 << 20

// Client calls Fiber AI's batch contact-details API. Build it with New.
//
// A Client is safe for concurrent use by multiple goroutines; it holds no per-call state and
// is not changed after New returns. The API key is a per-call argument, so one Client serves
// every key.
type Client struct {
	hc        *http.Client
	urls      map[Endpoint]string // full URL per endpoint; read-only after New
	timeout   time.Duration       // per attempt; 0 means none
	userAgent string
}

// New returns a Client for the API at baseURL, such as "https://api.fiber.ai". The URL must be
// absolute http or https with a host, and may carry a path prefix (for a proxy); it must not
// carry credentials, a query or a fragment. Without options, each attempt times out after
// DefaultTimeout and uses an HTTP transport owned by the Client (see CloseIdleConnections).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("parse base url: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("base url %q: scheme must be http or https", baseURL)
	case u.Host == "":
		return nil, fmt.Errorf("base url %q: missing host", baseURL)
	case u.User != nil:
		return nil, errors.New("base url: must not carry credentials")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, fmt.Errorf("base url %q: must not carry a query or fragment", baseURL)
	}

	o := options{timeout: DefaultTimeout, userAgent: DefaultUserAgent}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.timeout < 0 {
		return nil, fmt.Errorf("timeout %v: must not be negative", o.timeout)
	}

	base := strings.TrimRight(u.String(), "/")
	c := &Client{
		hc:        noRedirects(o.httpClient),
		urls:      make(map[Endpoint]string, 3),
		timeout:   o.timeout,
		userAgent: o.userAgent,
	}
	for _, ep := range []Endpoint{EndpointStart, EndpointPoll, EndpointCancel} {
		c.urls[ep] = base + ep.Path()
	}
	return c, nil
}

// CloseIdleConnections closes the idle keep-alive connections of the Client's HTTP client. It
// does not interrupt calls in flight and the Client stays usable. Call it when the Client is no
// longer needed, so that no connection (and its goroutines) outlives it.
func (c *Client) CloseIdleConnections() {
	c.hc.CloseIdleConnections()
}

// noRedirects returns a copy of hc (or a client with its own transport when hc is nil) that
// never follows redirects: the API key is in the body, so a redirect could hand it to another
// host, and a 3xx is reported as KindProtocol instead.
func noRedirects(hc *http.Client) *http.Client {
	var out http.Client
	if hc != nil {
		out = *hc
	} else {
		out.Transport = newTransport()
	}
	out.CheckRedirect = func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}
	return &out
}

// newTransport is net/http's default transport with a larger idle pool per host, since every
// call goes to the same host.
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        100,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
}
