import { Context } from '@temporalio/activity';
import type { Logger } from '../log';

/**
 * The worker's logger, plus the workflow an activity works for on every line logged while one
 * runs. Code shared with other processes (the notifier) takes a plain logger and
 * stays unaware of Temporal; wrapping it once here is what puts the workflow ID on its lines.
 * The names match the SDK's own activity log attributes, so one query finds both.
 */
export function withActivityContext(logger: Logger): Logger {
  const scoped = (level: 'debug' | 'info' | 'warn' | 'error') => (msg: string, fields?: Record<string, unknown>) =>
    logger[level](msg, { ...activityFields(), ...fields });
  return {
    debug: scoped('debug'),
    info: scoped('info'),
    warn: scoped('warn'),
    error: scoped('error'),
    child: (fields) => withActivityContext(logger.child(fields)),
  };
}

function activityFields(): Record<string, unknown> {
  let context: Context;
  try {
    context = Context.current();
  } catch {
    return {}; // not inside an activity: start-up, shutdown, tests calling the code directly
  }
  const { info } = context;
  return {
    workflowId: info.workflowExecution?.workflowId,
    workflowRunId: info.workflowExecution?.runId,
    workflowType: info.workflowType,
    activityType: info.activityType,
    attempt: info.attempt,
  };
}
