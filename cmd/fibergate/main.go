// Command fibergate is the command-line client of a fibergate server. It uses the public
// gRPC API exactly as any other client does.
//
//	fibergate enrich INPUT -o OUTPUT   contact details for a file of LinkedIn URLs
//	fibergate get|watch|results|cancel|delete TASK_ID
//	fibergate list [-state STATE] [-limit N]
//
// The server is -addr or FIBERGATE_ADDR (default localhost:9090). The caller's bearer token
// is read from FIBERGATE_TOKEN only: a flag's value would show in ps. Run a command with -h
// for its flags.
//
// Exit codes:
//
//	0    done
//	1    a server or network error (the message names the reason)
//	2    usage error: bad flags, arguments or input
//	3    done, but some people were rejected or failed, or some rows were left out
//	130  interrupted (SIGINT or SIGTERM); running the same command again goes on where it was
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes, as documented above.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitPartial     = 3
	exitInterrupted = 130
)

// env is what a command reads and writes besides the network.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

// command is one subcommand. run gets the arguments after the command's name and returns the
// exit code; it has reported any error on stderr itself.
type command struct {
	name, args, summary string
	run                 func(ctx context.Context, e env, args []string) int
}

// commands is the list usage prints, in its order.
func commands() []command {
	return append([]command{enrichCommand()}, taskCommands()...)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}, os.Args[1:])
	stop()
	os.Exit(code)
}

// run dispatches args[0] to its command.
func run(ctx context.Context, e env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(e.stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			code := c.run(ctx, e, args[1:])
			if code == exitError && ctx.Err() != nil {
				return exitInterrupted
			}
			return code
		}
	}
	fmt.Fprintf(e.stderr, "fibergate: unknown command %q (fibergate -h lists them)\n", args[0])
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, "Usage: fibergate COMMAND [flags] [args]\n\nfibergate is the command-line client of a fibergate server.\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %-22s %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprint(w, `
Connection (every command): -addr HOST:PORT or FIBERGATE_ADDR (default localhost:9090);
the bearer token from FIBERGATE_TOKEN; -tls-ca, -tls-cert/-tls-key (mTLS), -tls-server-name;
-plaintext. Loopback addresses are dialled in plaintext unless a TLS flag is given.

Exit codes: 0 done, 1 server or network error, 2 usage error, 3 some people rejected or
failed, 130 interrupted (run the same command again to go on).
`)
}
