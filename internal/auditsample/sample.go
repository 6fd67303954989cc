// Package auditsample bounds the audit lines of requests that anyone who can
// reach a front door can send as fast as the network allows: unauthenticated
// ones, and ones past a rate limit. Every front door (the RFC 2136 gateway,
// acme-dns, dyndns2) samples them the same way, so an operator reads one
// rule: in each interval the first PerSource lines of a source are written,
// at most Total in all, and the rest are counted and reported in one summary
// line when the interval ends.
package auditsample

import (
	"cmp"
	"context"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Defaults: five lines show a source's pattern; a hundred a minute keep a
// flood from many sources readable; 4,096 sources bound the memory.
const (
	DefaultPerSource  = 5
	DefaultTotal      = 100
	DefaultInterval   = time.Minute
	DefaultMaxSources = 4096
)

// Sampler decides which lines to write. Sources are remembered for one
// interval, at most MaxSources of them; a source beyond that is only counted.
// So a flood costs at most Total + 1 lines and MaxSources entries per
// interval, whatever its size. It is safe for concurrent use.
type Sampler struct {
	perSource, total, maxSources int
	interval                     time.Duration
	firstAlways                  bool

	mu         sync.Mutex
	start      time.Time
	logged     int
	suppressed int
	untracked  int // suppressed from sources not remembered
	sources    map[string]*SourceCount
}

// SourceCount is what one source had written and held back in an interval.
type SourceCount struct {
	Source             string
	Logged, Suppressed int
}

// Summary is what the sampler held back in one interval.
type Summary struct {
	Interval              time.Duration
	Suppressed, Sources   int
	Top                   []SourceCount // the sources held back most, at most 3
	UntrackedSuppressions int
}

// New returns a sampler; zero or negative arguments take the defaults.
func New(perSource, total int, interval time.Duration) *Sampler {
	if perSource <= 0 {
		perSource = DefaultPerSource
	}
	if total <= 0 {
		total = DefaultTotal
	}
	if interval <= 0 {
		interval = DefaultInterval
	}
	return &Sampler{perSource: perSource, total: total, maxSources: DefaultMaxSources, interval: interval,
		sources: map[string]*SourceCount{}}
}

// FirstOfEachSource makes a source's first line in an interval written even
// past Total, so that sources flooding together cannot crowd out one that
// is not: where every source is a tenant, each keeps a line of its own. A
// flood then costs at most Total + MaxSources + 1 lines per interval.
func (a *Sampler) FirstOfEachSource() *Sampler {
	a.firstAlways = true
	return a
}

// Interval is how long one sampling interval lasts.
func (a *Sampler) Interval() time.Duration { return a.interval }

// Allow says whether to write the line of a request from source (an address,
// host:port or host; the port is dropped so that one host is one source) at
// now, and returns the summary of the interval that ended before now, if it
// held anything back.
func (a *Sampler) Allow(source string, now time.Time) (bool, *Summary) {
	a.mu.Lock()
	defer a.mu.Unlock()
	sum := a.rollLocked(now)
	host := source
	if h, _, err := net.SplitHostPort(source); err == nil {
		host = h
	}
	c := a.sources[host]
	if c == nil {
		if len(a.sources) >= a.maxSources {
			a.suppressed++
			a.untracked++
			return false, sum
		}
		c = &SourceCount{Source: host}
		a.sources[host] = c
	}
	if c.Logged >= a.perSource || (a.logged >= a.total && (c.Logged > 0 || !a.firstAlways)) {
		c.Suppressed++
		a.suppressed++
		return false, sum
	}
	c.Logged++
	a.logged++
	return true, sum
}

// Flush returns the summary of the interval if it ended before now; call it
// on a ticker so that the summary is written also when the flood stopped.
func (a *Sampler) Flush(now time.Time) *Summary {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.rollLocked(now)
}

func (a *Sampler) rollLocked(now time.Time) *Summary {
	if a.start.IsZero() {
		a.start = now
	}
	if now.Sub(a.start) < a.interval {
		return nil
	}
	var sum *Summary
	if a.suppressed > 0 {
		sum = &Summary{Interval: now.Sub(a.start), Suppressed: a.suppressed, UntrackedSuppressions: a.untracked}
		for _, c := range a.sources {
			if c.Suppressed > 0 {
				sum.Sources++
				sum.Top = append(sum.Top, *c)
			}
		}
		if a.untracked > 0 {
			sum.Sources++
		}
		slices.SortFunc(sum.Top, func(x, y SourceCount) int {
			return cmp.Or(cmp.Compare(y.Suppressed, x.Suppressed), cmp.Compare(x.Source, y.Source))
		})
		sum.Top = sum.Top[:min(len(sum.Top), 3)]
	}
	a.start, a.logged, a.suppressed, a.untracked = now, 0, 0, 0
	clear(a.sources)
	return sum
}

// Remembered is how many sources the sampler holds.
func (a *Sampler) Remembered() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.sources)
}

// Log writes the line that stands for the lines held back in an interval, at
// warning level; a nil summary writes nothing.
func Log(ctx context.Context, l *slog.Logger, msg string, sum *Summary) {
	if sum == nil {
		return
	}
	top := make([]string, 0, len(sum.Top))
	for _, c := range sum.Top {
		top = append(top, c.Source+"="+strconv.Itoa(c.Suppressed))
	}
	l.LogAttrs(ctx, slog.LevelWarn, msg,
		slog.Int("suppressed", sum.Suppressed),
		slog.Int("sources", sum.Sources),
		slog.Any("top", top),
		slog.Duration("interval", sum.Interval.Round(time.Second)),
	)
}
