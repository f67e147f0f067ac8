package scheduler

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shardwise/shardwise/internal/awsapi"
	"github.com/shardwise/shardwise/internal/leasekey"
	"github.com/shardwise/shardwise/leases"
)

// Values of Config.FormerStreamLeases.
const (
	formerKeep           = "keep"
	formerDeleteWhenGone = "delete-when-gone"
	formerDeleteListed   = "delete-listed"
)

// formerStream is what the leader remembers of a stream whose leases are
// in the table but that is no longer consumed.
type formerStream struct {
	since     time.Time // first found not consumed
	goneSince time.Time // first found gone (delete-when-gone); zero while it exists
}

// cleanFormerStreams applies Config.FormerStreamLeases on the leader. It
// only ever deletes leases with a well-formed multi-stream key whose
// stream is not consumed now, and only after the wait; a malformed key or
// a single-stream key in the table is never deleted here (nor anywhere).
// Each delete is conditional on the lease counter read, so a lease that a
// worker still writes to is not deleted.
func (s *Scheduler) cleanFormerStreams(ctx context.Context, set *streamSet, existing []leases.Lease) {
	if !set.multi {
		return
	}
	byPrefix := map[string][]leases.Lease{}
	streams := map[string]leasekey.Stream{}
	for _, l := range existing {
		k, err := leasekey.Parse(l.Key)
		if err != nil || !k.Multi {
			continue
		}
		p := k.Stream.String()
		if set.byID[p] != nil {
			continue
		}
		byPrefix[p] = append(byPrefix[p], l)
		streams[p] = k.Stream
	}
	now := time.Now()
	if s.former == nil {
		s.former = map[string]*formerStream{}
	}
	for p := range s.former {
		if byPrefix[p] == nil {
			delete(s.former, p)
		}
	}
	for p, ls := range byPrefix {
		f := s.former[p]
		if f == nil {
			f = &formerStream{since: now}
			s.former[p] = f
		}
		var reason string
		switch s.cfg.FormerStreamLeases {
		case formerDeleteListed:
			if !listedForDeletion(s.cfg.FormerStreamsToDelete, streams[p]) || now.Sub(f.since) < s.cfg.FormerStreamLeasesWait {
				continue
			}
			reason = "its stream is no longer consumed and is listed in FormerStreamsToDelete"
		case formerDeleteWhenGone:
			gone, ok := s.streamGone(ctx, set, streams[p])
			if !ok {
				continue // unknown: ask again at the next sync
			}
			if !gone {
				f.goneSince = time.Time{}
				continue
			}
			if f.goneSince.IsZero() {
				f.goneSince = now
				s.log.Info().Str("stream", p).Dur("delete_after", s.cfg.FormerStreamLeasesWait).Msg("a former stream is gone; its leases will be deleted after the wait")
			}
			if now.Sub(f.goneSince) < s.cfg.FormerStreamLeasesWait {
				continue
			}
			reason = "its stream is no longer consumed and no longer exists"
		default:
			continue
		}
		for _, l := range ls {
			if err := s.store.Delete(ctx, l.Key, l.Counter); err != nil {
				if !errors.Is(err, leases.ErrConditionFailed) && !errors.Is(err, leases.ErrNotFound) && ctx.Err() == nil {
					s.warn.Warn(&s.log, "delete-former").Err(err).Str("lease", l.Key).Msg("deleting a former stream's lease failed")
				}
				continue
			}
			s.log.Info().Str("lease", l.Key).Str("event", "deleted").Str("reason", reason).Str("checkpoint", l.Checkpoint.String()).Msg("deleted a former stream's lease")
		}
	}
}

// listedForDeletion reports whether st is named in list, by name, ARN or
// serialized identifier.
func listedForDeletion(list []string, st leasekey.Stream) bool {
	for _, e := range list {
		switch {
		case e == st.Name, e == st.String():
			return true
		case strings.HasPrefix(e, "arn:"):
			if a, err := arn.Parse(e); err == nil && a.AccountID == st.Account && strings.TrimPrefix(a.Resource, "stream/") == st.Name {
				return true
			}
		}
	}
	return false
}

// streamGone asks Kinesis whether a former stream is gone: it does not
// exist, or a stream of its name exists with another creation time. ok is
// false when that cannot be told (no region known, or the call failed).
func (s *Scheduler) streamGone(ctx context.Context, set *streamSet, st leasekey.Stream) (gone, ok bool) {
	// The ARN is built from the partition and region of a consumed stream
	// (or the AWS config's region): the lease key carries neither.
	partition, region := "aws", ""
	for _, c := range set.list {
		if a, err := arn.Parse(c.arn); err == nil {
			partition, region = a.Partition, a.Region
			break
		}
	}
	if region == "" && s.cfg.AWSConfig != nil {
		region = s.cfg.AWSConfig.Region
	}
	if region == "" {
		s.warn.Warn(&s.log, "former-region").Str("stream", st.String()).Msg("cannot tell whether a former stream is gone: no region known; its leases are kept")
		return false, false
	}
	streamARN := arn.ARN{Partition: partition, Service: "kinesis", Region: region, AccountID: st.Account, Resource: "stream/" + st.Name}.String()
	out, err := s.kinesis.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamARN: aws.String(streamARN)})
	switch {
	case awsapi.IsNotFound(err):
		return true, true
	case err != nil:
		if ctx.Err() == nil {
			s.warn.Warn(&s.log, "former-describe").Err(err).Str("stream", st.String()).Msg("cannot tell whether a former stream is gone; its leases are kept")
		}
		return false, false
	}
	d := out.StreamDescriptionSummary
	if d == nil || d.StreamCreationTimestamp == nil {
		return false, false
	}
	return d.StreamCreationTimestamp.Unix() != st.CreationEpoch, true
}
