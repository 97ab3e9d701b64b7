package main

import (
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/storage/postgres/pgtest"
)

// TestSameRequestIDOnThreeReplicasStartsOnce runs three servers on one PostgreSQL database
// and one Fiber simulator, which holds the start for a while: the same request_id sent to the
// three at once is started upstream once, and each caller gets the same answer, the two
// replicas that did not send it waiting for the one that did.
func TestSameRequestIDOnThreeReplicasStartsOnce(t *testing.T) {
	sim, url := newUpstream(t)
	dsn := pgtest.NewDatabase(t)
	const replicas = 3
	clients := make([]cdv1.ContactDetailsServiceClient, replicas)
	for i := range clients {
		clients[i] = startServer(t, []string{"FIBER_API_KEY=" + serverKey}, "-fiber-url", url, "-store", dsn).dial(t)
	}
	// Long enough for the three requests to meet, far within the callers' deadline.
	const hold = 2 * time.Second
	if err := sim.InjectFault(fiberfake.Fault{Endpoint: fiberfake.EndpointStart, Kind: fiberfake.FaultDelay, Delay: hold, Count: 1}); err != nil {
		t.Fatal(err)
	}
	req := idempotentStart(requestID, "https://www.linkedin.com/in/jake", "https://www.linkedin.com/in/ada")

	var (
		wg    sync.WaitGroup
		begin = make(chan struct{})
		resps = make([]*cdv1.StartBatchResponse, replicas)
		errs  = make([]error, replicas)
		took  = make([]time.Duration, replicas)
	)
	for i, c := range clients {
		wg.Go(func() {
			ctx := testContext(t)
			<-begin
			began := time.Now()
			resps[i], errs[i] = c.StartBatch(ctx, req)
			took[i] = time.Since(began)
		})
	}
	close(begin)
	wg.Wait()

	for i := range resps {
		if errs[i] != nil {
			t.Fatalf("replica %d: %v", i, errs[i])
		}
		if resps[i].GetOutput().GetTaskId() == "" || !proto.Equal(resps[i], resps[0]) {
			t.Fatalf("replica %d answered %v, replica 0 %v; want one task's answer", i, resps[i], resps[0])
		}
	}
	t.Logf("the three answers came after %v (Fiber held the start %v)", took, hold)
	if n := sim.Calls(fiberfake.EndpointStart); n != 1 {
		t.Errorf("%d upstream starts for one request_id on three replicas, want 1", n)
	}
	if started := sim.StartedTasks(); len(started) != 1 || started[0].ID != resps[0].GetOutput().GetTaskId() {
		t.Errorf("Fiber started %+v, want the one task %s", started, resps[0].GetOutput().GetTaskId())
	}

	// Later, on any replica: the stored answer, still without another start.
	for i, c := range clients {
		again, err := c.StartBatch(testContext(t), req)
		if err != nil || !proto.Equal(again, resps[0]) {
			t.Errorf("replica %d, later: %v, %v; want the first answer", i, again, err)
		}
	}
	if n := sim.Calls(fiberfake.EndpointStart); n != 1 {
		t.Errorf("%d upstream starts after the retries, want 1", n)
	}
}
