package stack

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"handoff/scripts/localstack/sqssource"
	"handoff/scripts/localstack/template"
)

// createQueues creates each SQS event source's queue (and its dead-letter queue) on the local
// AWS, as the template declares them, and remembers their URLs by name: a function's
// environment names a queue by its !Ref, which the template reader resolves to the name, and
// Lambda would give the URL.
func (s *Stack) createQueues(ctx context.Context) error {
	s.queueURLs = map[string]string{}
	client := sqs.NewFromConfig(s.cfg.AWS)
	for _, src := range s.cfg.Template.QueueSources {
		if !src.FIFO {
			return fmt.Errorf("stack: %s: only FIFO queues run locally", src.Mapping)
		}
		q, err := sqssource.CreateTransferQueue(ctx, client, src.Queue, src.VisibilityTimeout, src.MaxReceiveCount)
		if err != nil {
			return err
		}
		s.queueURLs[src.Queue] = q.URL
	}
	return nil
}

// startQueuePollers delivers each SQS event source to its function, as Lambda's pollers do.
func (s *Stack) startQueuePollers(runCtx context.Context) {
	for _, src := range s.cfg.Template.QueueSources {
		p := s.newQueuePoller(src)
		s.pollers.Go(func() {
			if err := p.Run(runCtx); err != nil {
				s.cfg.Log.Error("stack: queue stopped", "function", src.Function, "queue", src.Queue, "error", err)
			}
		})
	}
}

func (s *Stack) newQueuePoller(src template.QueueSource) *sqssource.Poller {
	return sqssource.New(sqssource.Config{
		SQS: sqs.NewFromConfig(s.cfg.AWS), QueueURL: s.queueURLs[src.Queue], Target: s.Functions[src.Function],
		BatchSize: src.BatchSize, ReportBatchItemFailures: src.ReportBatchItemFailures,
		Region: s.cfg.AWS.Region, Log: s.cfg.Log,
	})
}
