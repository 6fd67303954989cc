package gateway

import (
	"cmp"
	"net"
	"slices"
	"sync"
	"time"
)

// auditSampler bounds the audit lines of UPDATEs that nobody authenticated
// (unsigned, an unknown key, a bad MAC): anyone who can reach the port can
// send those, as fast as the network allows and from forged UDP sources. In
// each interval the first perSource of a source (by IP address) are logged,
// at most total in all; the rest are counted and reported in one summary line
// when the interval ends. Sources are remembered for one interval, at most
// maxSources of them; a source beyond that is only counted. So a flood costs
// at most total + 1 lines and maxSources entries per interval, whatever its
// size.
type auditSampler struct {
	perSource, total, maxSources int
	interval                     time.Duration

	mu         sync.Mutex
	start      time.Time
	logged     int
	suppressed int
	untracked  int // suppressed from sources not remembered
	sources    map[string]*sourceCount
}

type sourceCount struct {
	source             string
	logged, suppressed int
}

// auditSummary is what the sampler held back in one interval.
type auditSummary struct {
	interval              time.Duration
	suppressed, sources   int
	top                   []sourceCount // the sources held back most, at most 3
	untrackedSuppressions int
}

const (
	defaultSamplePerSource = 5
	defaultSampleTotal     = 100
	defaultSampleInterval  = time.Minute
	sampleMaxSources       = 4096
)

func newAuditSampler(perSource, total int, interval time.Duration) *auditSampler {
	return &auditSampler{perSource: perSource, total: total, maxSources: sampleMaxSources, interval: interval,
		sources: map[string]*sourceCount{}}
}

// allow says whether to log an unauthenticated request from source (an
// address, host:port or host) at now, and returns the summary of the interval
// that ended before now, if it held anything back.
func (a *auditSampler) allow(source string, now time.Time) (bool, *auditSummary) {
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
		c = &sourceCount{source: host}
		a.sources[host] = c
	}
	if c.logged >= a.perSource || a.logged >= a.total {
		c.suppressed++
		a.suppressed++
		return false, sum
	}
	c.logged++
	a.logged++
	return true, sum
}

// flush returns the summary of the interval if it ended before now.
func (a *auditSampler) flush(now time.Time) *auditSummary {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.rollLocked(now)
}

func (a *auditSampler) rollLocked(now time.Time) *auditSummary {
	if a.start.IsZero() {
		a.start = now
	}
	if now.Sub(a.start) < a.interval {
		return nil
	}
	var sum *auditSummary
	if a.suppressed > 0 {
		sum = &auditSummary{interval: now.Sub(a.start), suppressed: a.suppressed, untrackedSuppressions: a.untracked}
		for _, c := range a.sources {
			if c.suppressed > 0 {
				sum.sources++
				sum.top = append(sum.top, *c)
			}
		}
		if a.untracked > 0 {
			sum.sources++
		}
		slices.SortFunc(sum.top, func(x, y sourceCount) int {
			return cmp.Or(cmp.Compare(y.suppressed, x.suppressed), cmp.Compare(x.source, y.source))
		})
		sum.top = sum.top[:min(len(sum.top), 3)]
	}
	a.start, a.logged, a.suppressed, a.untracked = now, 0, 0, 0
	clear(a.sources)
	return sum
}

// remembered is how many sources the sampler holds.
func (a *auditSampler) remembered() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.sources)
}
