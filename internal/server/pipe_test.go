package server

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

func TestPipeListener(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l := newPipeListener()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	client, err := l.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server := <-accepted
	if server == nil {
		t.FailNow()
	}
	defer server.Close()

	// Bytes written at one end are read at the other, both ways.
	go func() {
		if _, err := client.Write([]byte("ping")); err != nil {
			t.Error(err)
		}
	}()
	got := make([]byte, 4)
	if _, err := io.ReadFull(server, got); err != nil || string(got) != "ping" {
		t.Fatalf("server read %q, %v", got, err)
	}
	go func() {
		if _, err := server.Write([]byte("pong")); err != nil {
			t.Error(err)
		}
	}()
	if _, err := io.ReadFull(client, got); err != nil || string(got) != "pong" {
		t.Fatalf("client read %q, %v", got, err)
	}
	if a := l.Addr(); a.Network() != "pipe" {
		t.Errorf("Addr().Network() = %q", a.Network())
	}

	// A Dial nobody accepts ends with its context.
	short, cancelShort := context.WithCancel(ctx)
	cancelShort()
	if _, err := l.Dial(short); !errors.Is(err, context.Canceled) {
		t.Errorf("Dial with a cancelled context: %v", err)
	}

	// After Close, Accept and Dial fail with net.ErrClosed; Close is idempotent, and the
	// pipe already accepted stays open.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v", err)
	}
	if _, err := l.Dial(ctx); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Dial after Close: %v", err)
	}
	go func() {
		if _, err := client.Write([]byte("more")); err != nil {
			t.Error(err)
		}
	}()
	if _, err := io.ReadFull(server, got); err != nil || string(got) != "more" {
		t.Fatalf("an accepted pipe after Close: read %q, %v", got, err)
	}
}
