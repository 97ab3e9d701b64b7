package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

// watchOpenTimeout bounds how long openWatches waits for every stream's first message.
const watchOpenTimeout = 2 * time.Minute

// watches are WatchTask streams held open, each past its first message, until close.
type watches struct {
	cancel   context.CancelFunc
	wg       sync.WaitGroup // one per stream
	conns    []*grpc.ClientConn
	messages atomic.Int64 // received after each stream's first

	mu       sync.Mutex // guards firstErr
	firstErr error      // of the first stream that failed or ended before close
}

// openWatches opens n streams watching ids in turn, over conns connections to addr
// (scaleOpeners being opened at once), and returns once each has its first message. The
// streams then receive until close.
func openWatches(ctx context.Context, addr string, ids []string, n, conns int) (*watches, error) {
	w := &watches{}
	sctx, cancel := context.WithCancel(ctx)
	w.cancel = cancel
	clients := make([]cdv1.ContactDetailsServiceClient, conns)
	for i := range conns {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			w.close()
			return nil, err
		}
		w.conns = append(w.conns, conn)
		clients[i] = cdv1.NewContactDetailsServiceClient(conn)
	}
	opening := make(chan struct{}, scaleOpeners) // a slot per stream being opened
	var ready sync.WaitGroup
	ready.Add(n)
	for i := range n {
		w.wg.Go(func() {
			opening <- struct{}{}
			stream, err := clients[i%conns].WatchTask(sctx, &cdv1.WatchTaskRequest{TaskId: ids[i%len(ids)]})
			if err == nil {
				_, err = stream.Recv()
			}
			<-opening
			ready.Done()
			if err != nil {
				w.fail(fmt.Errorf("watch stream %d: %w", i, err))
				return
			}
			for { // until close cancels sctx, or the stream ends
				if _, err := stream.Recv(); err != nil {
					if sctx.Err() == nil {
						w.fail(fmt.Errorf("watch stream %d ended: %w", i, err))
					}
					return
				}
				w.messages.Add(1)
			}
		})
	}
	allReady := make(chan struct{})
	go func() { ready.Wait(); close(allReady) }()
	select {
	case <-allReady:
	case <-time.After(watchOpenTimeout):
		err := fmt.Errorf("the watch streams did not all open within %v", watchOpenTimeout)
		return nil, errors.Join(err, w.close())
	}
	if err := w.err(); err != nil {
		return nil, errors.Join(err, w.close())
	}
	return w, nil
}

// fail records the first stream error.
func (w *watches) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.firstErr == nil {
		w.firstErr = err
	}
}

func (w *watches) err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.firstErr
}

// close ends every stream, waits for their goroutines and closes the connections. It returns
// the first error of a stream that failed or ended before.
func (w *watches) close() error {
	w.cancel()
	w.wg.Wait()
	for _, c := range w.conns {
		c.Close()
	}
	return w.err()
}
