package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fibergate/fibergate/internal/storage"
)

// Signals between the replicas sharing the store (tasks.Signals) travel by PostgreSQL's
// LISTEN/NOTIFY, on one channel per schema, so that two clusters in one database (each in
// its schema) do not hear each other. A notification reaches the sessions listening when it
// is sent and no other: one sent while a listener is disconnected is lost to it, which is
// why Listen starts with storage.SignalResync.
//
// The channel's name is computed by the server, so that Publish needs no state:
// "fibergate_" and the first 16 hex digits of the md5 of the schema's name (a schema's name
// may be as long as a channel's may be).
const channelSQL = `'fibergate_' || left(md5(current_schema()), 16)`

const (
	// listenPing is how long a listener waits for a notification before it checks its
	// connection with a round trip: a connection lost without a word (a dead peer, a cut
	// network) is noticed within it, rather than when TCP gives up.
	listenPing = 30 * time.Second
	// listenCloseTimeout bounds the close of a listener's connection.
	listenCloseTimeout = 5 * time.Second
	// listenAppName is the application_name of a listener's connection when the DSN sets
	// none (otherwise it is appended to the DSN's): pg_stat_activity tells it apart.
	listenAppName = "fibergate/signals"
)

// signalPayload is a Signal as a notification's payload carries it: small (a payload must
// stay under 8000 bytes).
type signalPayload struct {
	Kind    storage.SignalKind `json:"k"`
	Replica string             `json:"r"`
	Task    string             `json:"t"`
}

// Publish sends sig to every session listening on the store's channel (Listen), with
// pg_notify: PostgreSQL delivers it once the statement commits, to the sessions listening
// then. It returns once the database has accepted it.
func (s *Store) Publish(ctx context.Context, sig storage.Signal) error {
	b, err := json.Marshal(signalPayload{Kind: sig.Kind, Replica: sig.Replica, Task: sig.Task})
	if err != nil {
		return fmt.Errorf("publish %s signal: %w", sig.Kind, err)
	}
	if _, err := s.pool.Exec(ctx, `SELECT pg_notify(`+channelSQL+`, $1)`, string(b)); err != nil {
		return fmt.Errorf("publish %s signal of task %s: %w", sig.Kind, sig.Task, err)
	}
	return nil
}

// Listen listens on the store's channel with a connection of its own, outside the pool
// (LISTEN belongs to a session, which a pooled connection does not keep), and calls handle,
// on Listen's goroutine, with storage.SignalResync once it listens, then with every signal
// published on the channel, in the order the database delivers them. It returns nil when ctx
// ends, and an error when the connection is lost or cannot be had: then the signals
// published until the next Listen are lost. A payload that is no signal is skipped.
//
// The connection is the DSN's, so LISTEN needs a session: through a transaction-pooling
// proxy (PgBouncer in transaction mode) notifications do not arrive.
func (s *Store) Listen(ctx context.Context, handle func(storage.Signal)) error {
	cfg := s.pool.Config().ConnConfig.Copy()
	if app := cfg.RuntimeParams["application_name"]; app != "" {
		cfg.RuntimeParams["application_name"] = app + " " + listenAppName
	} else {
		cfg.RuntimeParams["application_name"] = listenAppName
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("listen for signals: connect: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), listenCloseTimeout)
		defer cancel()
		_ = conn.Close(cctx) // a lost connection has nothing to close
	}()
	var channel string
	if err := conn.QueryRow(ctx, `SELECT `+channelSQL).Scan(&channel); err != nil {
		return listenErr(ctx, err)
	}
	if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{channel}.Sanitize()); err != nil {
		return listenErr(ctx, err)
	}
	handle(storage.Signal{Kind: storage.SignalResync})
	for {
		wctx, cancel := context.WithTimeout(ctx, listenPing)
		n, err := conn.WaitForNotification(wctx)
		quiet := errors.Is(wctx.Err(), context.DeadlineExceeded)
		cancel()
		switch {
		case err == nil:
			var p signalPayload
			if json.Unmarshal([]byte(n.Payload), &p) == nil && p.Kind != "" {
				handle(storage.Signal{Kind: p.Kind, Replica: p.Replica, Task: p.Task})
			}
		case ctx.Err() != nil:
			return nil
		case quiet:
			if err := conn.Ping(ctx); err != nil {
				return listenErr(ctx, err)
			}
		default:
			return listenErr(ctx, err)
		}
	}
}

// listenErr is what Listen returns after err: nil once ctx ended.
func listenErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("listen for signals: %w", err)
}
