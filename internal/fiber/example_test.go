package fiber_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/fibergate/fibergate/internal/fiber"
)

func ExampleClient_Start() {
	// A stand-in for https://api.fiber.ai.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, `{"output":{"taskId":"task-42","numPeopleEnqueued":1},
			"chargeInfo":{"method":"charged-now","creditsCharged":5},"advice":[]}`)
	}))
	defer srv.Close()

	c, err := fiber.New(srv.URL, fiber.WithHTTPClient(srv.Client()), fiber.WithTimeout(10*time.Second))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	resp, err := c.Start(ctx, "sk_live_...", fiber.StartRequest{
		LinkedInURLs: []string{"https://www.linkedin.com/in/jake"},
	})
	var fe *fiber.Error
	switch {
	case errors.As(err, &fe) && fe.Kind == fiber.KindOutcomeUnknown:
		fmt.Println("the task may exist and be charged: do not start it again blindly")
	case err != nil:
		fmt.Println("start failed:", err)
	default:
		fmt.Println(resp.TaskID, resp.NumPeopleEnqueued, resp.Charge.Method, *resp.Charge.CreditsCharged)
	}
	// Output: task-42 1 charged-now 5
}
