package budget_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/fibergate/fibergate/internal/budget"
	"github.com/fibergate/fibergate/internal/fiber"
)

// Example wires a Limiter into a fiber.Retrier, as the server does: every attempt waits for a
// slot of its key and endpoint, and a call whose slot cannot come before its deadline fails at
// once with the expected delay.
func Example() {
	// A stand-in for https://api.fiber.ai.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, `{"output":{"taskId":"task-42","numPeopleEnqueued":1},"chargeInfo":{"method":"charged-now","creditsCharged":5}}`)
	}))
	defer srv.Close()

	limits := budget.DefaultLimits()
	limits.Start = budget.Limit{N: 1, Per: time.Minute} // to show a full bucket
	l, err := budget.New(budget.Config{Limits: limits})
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := fiber.New(srv.URL, fiber.WithHTTPClient(srv.Client()))
	if err != nil {
		fmt.Println(err)
		return
	}
	r := fiber.NewRetrier(c, fiber.RetryConfig{Limiter: l})

	// The caller's name decides its queue; its deadline bounds its wait.
	ctx, cancel := context.WithTimeout(budget.WithCaller(context.Background(), "crm-sync"), 10*time.Second)
	defer cancel()
	req := fiber.StartRequest{LinkedInURLs: []string{"https://www.linkedin.com/in/jake"}}
	resp, err := r.Start(ctx, "sk_live_...", req)
	fmt.Println(resp.TaskID, err)

	_, err = r.Start(ctx, "sk_live_...", req)
	var we *budget.WaitError
	if errors.As(err, &we) {
		fmt.Printf("no %s slot within the deadline: retry in %v\n", we.Endpoint, we.RetryAfter.Round(time.Second))
	}
	// Output:
	// task-42 <nil>
	// no start slot within the deadline: retry in 1m1s
}
