"""The subset of the Inngest dev server's GraphQL schema (`POST /v0/gql`) that tooling reads runs
through: types and field names as `inngest-cli dev` declares them, so that queries written for
it run unchanged here.

`Bytes` values are JSON text (a run's output, a step's data, an event's payload), as the Go
server sends them; `Time` values are RFC 3339 text; `ULID` and `UUID` are strings.
"""

from __future__ import annotations

import functools

from graphql import GraphQLSchema, build_schema

__all__ = ["RUN_STATUSES", "SPAN_STATUSES", "schema"]

RUN_STATUSES = ("COMPLETED", "FAILED", "CANCELLED", "RUNNING", "QUEUED", "SKIPPED")
"""`FunctionRunStatus`: Inngest's run statuses (a sleeping or waiting run is `RUNNING`)."""

SPAN_STATUSES = ("FAILED", "QUEUED", "RUNNING", "COMPLETED", "WAITING", "CANCELLED")
"""`RunTraceSpanStatus`: a span (the run, or one of its steps) as the trace shows it."""

_SDL = f"""
scalar Time
scalar ULID
scalar UUID
scalar Bytes

type Query {{
  event(query: EventQuery!): Event
  functionRun(query: FunctionRunQuery!): FunctionRun
  run(runID: String!): FunctionRunV2
  runs(
    first: Int! = 100
    after: String
    orderBy: [RunsV2OrderBy!]!
    filter: RunsFilterV2!
  ): RunsV2Connection!
  runTrace(runID: String!): RunTraceSpan!
  runTraceSpanOutputByID(outputID: String!): RunTraceSpanOutput!
  runTrigger(runID: String!): RunTraceTrigger!
}}

input EventQuery {{
  workspaceId: ID! = "local"
  eventId: ID!
}}

input FunctionRunQuery {{
  workspaceId: ID! = "local"
  functionRunId: ID!
}}

type Event {{
  id: ULID!
  externalID: String
  name: String
  createdAt: Time
  payload: String
  raw: String
  totalRuns: Int
  pendingRuns: Int
  functionRuns: [FunctionRun!]
}}

enum FunctionRunStatus {{ {" ".join(RUN_STATUSES)} }}

type Function {{
  id: String!
  name: String!
  slug: String!
}}

type FunctionRun {{
  id: ID!
  functionID: String!
  function: Function
  status: FunctionRunStatus
  startedAt: Time
  finishedAt: Time
  output: String
  eventID: ID!
  event: Event
  events: [Event!]!
}}

type FunctionRunV2 {{
  id: ULID!
  functionID: UUID!
  function: Function!
  traceID: String!
  queuedAt: Time!
  startedAt: Time
  endedAt: Time
  status: FunctionRunStatus!
  triggerIDs: [ULID!]!
  eventName: String
  isBatch: Boolean!
  cronSchedule: String
  output: Bytes
  trace: RunTraceSpan
}}

input RunsFilterV2 {{
  from: Time!
  until: Time
  timeField: RunsV2OrderByField = QUEUED_AT
  status: [FunctionRunStatus!]
  functionIDs: [UUID!]
  appIDs: [UUID!]
  query: String
}}

input RunsV2OrderBy {{
  field: RunsV2OrderByField!
  direction: RunsOrderByDirection!
}}

enum RunsV2OrderByField {{ QUEUED_AT STARTED_AT ENDED_AT }}

enum RunsOrderByDirection {{ ASC DESC }}

type PageInfo {{
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}}

type RunsV2Connection {{
  edges: [FunctionRunV2Edge!]!
  pageInfo: PageInfo!
  totalCount: Int!
}}

type FunctionRunV2Edge {{
  node: FunctionRunV2!
  cursor: String!
}}

enum RunTraceSpanStatus {{ {" ".join(SPAN_STATUSES)} }}

enum StepOp {{ INVOKE RUN SLEEP WAIT_FOR_EVENT AI_GATEWAY }}

type RunTraceSpan {{
  functionID: UUID!
  runID: ULID!
  spanID: String!
  traceID: String!
  name: String!
  status: RunTraceSpanStatus!
  attempts: Int
  duration: Int
  outputID: String
  queuedAt: Time!
  startedAt: Time
  endedAt: Time
  childrenSpans: [RunTraceSpan!]!
  stepOp: StepOp
  stepID: String
  isRoot: Boolean!
  parentSpanID: String
}}

type RunTraceSpanOutput {{
  input: Bytes
  data: Bytes
  error: StepError
}}

type StepError {{
  message: String!
  name: String
  stack: String
}}

type RunTraceTrigger {{
  eventName: String
  IDs: [ULID!]!
  payloads: [Bytes!]!
  timestamp: Time!
  isBatch: Boolean!
  batchID: ULID
  cron: String
}}
"""


@functools.cache
def schema() -> GraphQLSchema:
    """The schema, built once on first use (resolvers are the root value's and the dicts')."""
    return build_schema(_SDL)
