// Command noctua is the single Noctua binary: the collectors, the embedded
// store, the REST and websocket API and the browser dashboard in one
// process.
//
//	noctua serve [--config FILE] [--listen ADDR] [--data-dir DIR] [--demo]
//	noctua check-config --config FILE
//	noctua version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/noctua-obs/noctua/config"
)

// version is set at build time with -ldflags "-X main.version=..." (see
// version.go for the commit and build date).
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "noctua:", err)
		os.Exit(1)
	}
}

const usage = `usage: noctua <command> [flags]

commands:
  serve         run collectors, store, API and dashboard (--demo adds a live demo load)
  demo          same as serve --demo
  check-config  validate a configuration file and print every problem
  audit         verify: check the audit log's hash chain (--data-dir)
  token         new: a random token and its hash; hash: the hash to store in the configuration
  version       print the version
Run "noctua <command> -h" for the flags of a command.`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return errors.New("no command given")
	}
	err := runCmd(ctx, args, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil // -h printed the flags: asked for, not a failure
	}
	return err
}

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return serveCmd(ctx, rest, false, stdout, stderr)
	case "demo":
		return serveCmd(ctx, rest, true, stdout, stderr)
	case "check-config":
		return checkConfigCmd(rest, stdout, stderr)
	case "audit":
		return auditCmd(rest, stdout, stderr)
	case "token":
		return tokenCmd(rest, stdin, stdout, stderr)
	case "version":
		printVersion(stdout)
		return nil
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	default:
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

func checkConfigCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file to check (default: the shipped example)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b := config.Example()
	if *path != "" {
		var err error
		if b, err = os.ReadFile(*path); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	}
	cfg, err := config.Check(b)
	if err != nil {
		return err
	}
	apis := 0
	for _, d := range cfg.Domains {
		for _, s := range d.Services {
			apis += len(s.APIs)
		}
	}
	fmt.Fprintf(stdout, "configuration OK: %d domains, %d APIs, %d journeys, %d tokens\n",
		len(cfg.Domains), apis, len(cfg.Journeys), len(cfg.Auth.Tokens))
	return nil
}

// loadConfig reads path, or the shipped example when path is empty.
func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return config.Parse(config.Example())
	}
	return config.Load(path)
}

// newLogger returns a leveled logfmt logger on w.
func newLogger(w io.Writer, lvl string) (log.Logger, error) {
	logger := log.NewLogfmtLogger(log.NewSyncWriter(w))
	var opt level.Option
	switch lvl {
	case "debug":
		opt = level.AllowDebug()
	case "info":
		opt = level.AllowInfo()
	case "warn":
		opt = level.AllowWarn()
	case "error":
		opt = level.AllowError()
	default:
		return nil, fmt.Errorf("--log.level: want debug, info, warn or error, got %q", lvl)
	}
	logger = level.NewFilter(logger, opt)
	return log.With(logger, "ts", log.DefaultTimestampUTC, "caller", log.DefaultCaller), nil
}
