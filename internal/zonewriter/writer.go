package zonewriter

import (
	"context"
	"errors"
)

// Writer applies front-door requests; it is safe for concurrent use.
type Writer struct {
	o Options
}

// New checks the options and builds a writer.
func New(o Options) (*Writer, error) {
	if o.Providers == nil {
		return nil, errors.New("zonewriter: Options.Providers is required")
	}
	return &Writer{o: o}, nil
}

// Write applies one request, all of it or nothing. A request not applied
// returns an *Error saying why.
func (w *Writer) Write(ctx context.Context, r Request) (Result, error) {
	return Result{}, &Error{Code: Failed, Reason: "zonewriter: not implemented yet"}
}
