// Package metrics exports radgate's Prometheus metrics and its health
// check. It observes the RADIUS server through radiusd.Observer and the
// store through a counting policy.Store wrapper, so neither radiusd nor
// policy imports Prometheus.
//
// Every label value is bounded: client names come from the config's client
// blocks, packet codes, results, reasons and drop reasons from fixed sets
// in radiusd and policy, and store operations from the method names. User
// names are never labels.
//
// Exported series (all prefixed radgate_):
//
//	requests_total{client,code}          datagrams from known clients
//	decisions_total{result,reason}       Access-Requests decided and answered
//	request_duration_seconds             histogram, worker start to reply
//	bypass_codes_consumed_total          accepts that spent a bypass code
//	duplicates_replayed_total{client}    retransmissions answered from cache
//	packets_dropped_total{reason}        datagrams that got no reply
//	inflight_requests                    Access-Requests being processed
//	store_errors_total{op}               store calls that failed
//	audit_events_lost_total              audit events the store dropped
//	store_commits_total                  group commits of the store's writer
//	store_commit_writes_total            writes those commits carried
//	store_commit_seconds_total           time spent in those commits
//	socket_receive_drops_total           datagrams the kernel dropped unread
//
// plus the Go runtime and process collectors.
package metrics
