// Command kubectl-scopedns is the kubectl plugin `kubectl scopedns`: can-i,
// grants, audit and doctor (internal/kubectlplugin). kubectl finds it on
// PATH by its name.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/scopedns/scopedns/internal/kubectlplugin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cmd := kubectlplugin.NewCommand(genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
	err := cmd.ExecuteContext(ctx)
	switch {
	case err == nil:
	case errors.Is(err, kubectlplugin.ErrAnswerNo):
		os.Exit(1) // printed already: denied, or a check failed
	default:
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
