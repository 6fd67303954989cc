// Package rotation parses credential rotation schedules and answers when the
// next rotation is due. It is pure: time is always passed in.
package rotation

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
)

// parser accepts standard five-field cron and descriptors such as @daily and
// "@every 720h". Seconds fields are refused: nobody rotates credentials by the
// second, and a six-field typo would otherwise silently mean something else.
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Schedule is a parsed rotation schedule.
type Schedule struct {
	spec  string
	sched cron.Schedule
}

// Parse parses a cron expression or "@every <duration>".
func Parse(spec string) (Schedule, error) {
	s, err := parser.Parse(spec)
	if err != nil {
		return Schedule{}, fmt.Errorf("%q is neither a five-field cron expression nor @every <duration>: %w", spec, err)
	}
	if every, ok := s.(cron.ConstantDelaySchedule); ok && every.Delay < time.Minute {
		return Schedule{}, fmt.Errorf("%q rotates more often than once a minute", spec)
	}
	return Schedule{spec: spec, sched: s}, nil
}

// Next returns the first rotation time after t.
func (s Schedule) Next(t time.Time) time.Time { return s.sched.Next(t) }

// LongestPeriod returns the longest gap between two rotations over the next
// year from t. Monthly cron schedules have gaps of 28 to 31 days; token expiry
// has to outlast the longest one.
func (s Schedule) LongestPeriod(t time.Time) time.Duration {
	if every, ok := s.sched.(cron.ConstantDelaySchedule); ok {
		return every.Delay
	}
	var longest time.Duration
	prev := s.sched.Next(t)
	end := t.AddDate(1, 0, 0)
	for i := 0; i < 1000 && prev.Before(end); i++ {
		next := s.sched.Next(prev)
		if d := next.Sub(prev); d > longest {
			longest = d
		}
		prev = next
	}
	return longest
}

// String returns the schedule as written.
func (s Schedule) String() string { return s.spec }
