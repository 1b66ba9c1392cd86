import { kubectl, kubectlJson } from './kubectl.ts';

/**
 * No Job controller or kubelet runs in the test cluster, so the tests play their part through the
 * API, as they would: a pod that terminated with an exit code, the Job's status conditions (with
 * the fields the API server's validation demands), and the Event the worker records.
 */

const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

/** The worker records its Event before it exits, so before the Job completes. */
export async function completeJob(namespace: string, job: string, facts: { key: string; rows: number }): Promise<void> {
  await recordEvent(namespace, job, 'ReportPublished', `published ${facts.key}: ${facts.rows} rows`, { 'daily-report/key': facts.key, 'daily-report/rows': String(facts.rows) });
  const t = now();
  await patchStatus(namespace, job, {
    startTime: await startTimeOf(namespace, job, t),
    completionTime: t,
    active: 0,
    succeeded: 1,
    conditions: [
      { type: 'SuccessCriteriaMet', status: 'True', lastTransitionTime: t },
      { type: 'Complete', status: 'True', lastTransitionTime: t },
    ],
  });
}

/** The worker exited `exitCode`; the podFailurePolicy failed the Job at once (exit codes 2–5) or the retries ran out. */
export async function failJob(namespace: string, job: string, exitCode: number): Promise<void> {
  const pod = `${job}-pod`.slice(0, 63);
  await kubectl(['create', '-n', namespace, '-f', '-'], JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: pod, labels: { 'batch.kubernetes.io/job-name': job } },
    spec: { restartPolicy: 'Never', containers: [{ name: 'daily-report', image: 'daily-report:test' }] },
  }));
  const t = now();
  await kubectl(['patch', 'pod', pod, '-n', namespace, '--subresource=status', '--type=merge', '-p', JSON.stringify({
    status: {
      phase: 'Failed',
      containerStatuses: [{ name: 'daily-report', image: 'daily-report:test', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode, reason: 'Error', startedAt: t, finishedAt: t } } }],
    },
  })]);
  const permanent = [2, 3, 4, 5].includes(exitCode);
  const reason = permanent ? 'PodFailurePolicy' : 'BackoffLimitExceeded';
  const message = permanent ? `Container daily-report for pod ${namespace}/${pod} failed with exit code ${exitCode} matching FailJob rule at index 0` : 'Job has reached the specified backoff limit';
  await patchStatus(namespace, job, {
    startTime: await startTimeOf(namespace, job, t),
    active: 0,
    failed: 1,
    conditions: [
      { type: 'FailureTarget', status: 'True', reason, message, lastTransitionTime: t },
      { type: 'Failed', status: 'True', reason, message, lastTransitionTime: t },
    ],
  });
}

/** Marks the Job started (a pod running), as the controller does when it creates the pod. */
export async function startJob(namespace: string, job: string): Promise<void> {
  await patchStatus(namespace, job, { startTime: now(), active: 1 });
}

export interface JobSummary {
  name: string;
  reportDate: string | undefined;
  created: string;
  finished: boolean;
}

export async function listJobs(namespace: string): Promise<JobSummary[]> {
  const list = await kubectlJson(['get', 'jobs', '-n', namespace]);
  return list.items
    .map((job: any) => ({
      name: job.metadata.name,
      reportDate: job.metadata.annotations?.['daily-report/report-date'],
      created: job.metadata.creationTimestamp,
      finished: (job.status?.conditions ?? []).some((c: any) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True'),
    }))
    .sort((a: JobSummary, b: JobSummary) => a.created.localeCompare(b.created) || a.name.localeCompare(b.name));
}

/** The API server refuses to change a started Job's startTime. */
async function startTimeOf(namespace: string, job: string, otherwise: string): Promise<string> {
  return (await kubectlJson(['get', 'job', job, '-n', namespace])).status?.startTime ?? otherwise;
}

async function patchStatus(namespace: string, job: string, status: Record<string, unknown>): Promise<void> {
  await kubectl(['patch', 'job', job, '-n', namespace, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]);
}

async function recordEvent(namespace: string, job: string, reason: string, message: string, annotations: Record<string, string>): Promise<void> {
  const uid = (await kubectlJson(['get', 'job', job, '-n', namespace])).metadata.uid;
  const t = now();
  await kubectl(['create', '-n', namespace, '-f', '-'], JSON.stringify({
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${job}.${Date.now().toString(16)}`, annotations },
    involvedObject: { apiVersion: 'batch/v1', kind: 'Job', name: job, namespace, uid },
    reason,
    message,
    type: reason === 'ReportFailed' ? 'Warning' : 'Normal',
    source: { component: 'daily-report' },
    firstTimestamp: t,
    lastTimestamp: t,
    count: 1,
  }));
}
