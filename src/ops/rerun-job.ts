import { ConfigurationIsInvalid } from '../errors.ts';
import type { V1CronJob, V1Job } from '@kubernetes/client-node';

/** The worker's container in the chart's Job template. */
export const WORKER_CONTAINER = 'daily-report';

/** Annotations this CLI records on the Jobs it creates (and `status` reads back). */
export const ANNOTATIONS = {
  reportDate: 'daily-report/report-date',
  requestedBy: 'daily-report/requested-by',
  /** Set by kubectl create job --from and by us: the Job was not created by the schedule. */
  instantiate: 'cronjob.kubernetes.io/instantiate',
} as const;

const MAX_NAME = 63;
const RANDOM_SUFFIX = 5;

/** `<cronjob>-<yyyymmdd>-<random>`, within the 63 characters of a Job name (and its pods' label). */
export function rerunJobName(cronJob: string, date: string, random: string): string {
  const suffix = `-${date.replaceAll('-', '')}-${random.slice(0, RANDOM_SUFFIX)}`;
  return `${cronJob.slice(0, MAX_NAME - suffix.length).replace(/-+$/, '')}${suffix}`;
}

/**
 * A Job for `date` from the CronJob's template, made as `kubectl create job --from=cronjob/…`
 * makes one — the template's labels, annotations and spec, `cronjob.kubernetes.io/instantiate:
 * manual` and an ownerReference to the CronJob — plus REPORT_DATE on the worker and annotations
 * recording the date and who asked.
 */
export function rerunJob(cronJob: V1CronJob, date: string, requestedBy: string, random: string): V1Job {
  const template = cronJob.spec!.jobTemplate;
  const spec = structuredClone(template.spec!);
  const containers = spec.template.spec!.containers;
  const worker = containers.find((c) => c.name === WORKER_CONTAINER) ?? containers[0];
  if (worker === undefined) throw new ConfigurationIsInvalid([`--cronjob: CronJob ${cronJob.metadata!.name} has no container: it is not a daily-report CronJob`], { phase: 'cluster' });
  worker.env = [...(worker.env ?? []).filter((variable) => variable.name !== 'REPORT_DATE'), { name: 'REPORT_DATE', value: date }];
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: rerunJobName(cronJob.metadata!.name!, date, random),
      namespace: cronJob.metadata!.namespace,
      labels: { ...template.metadata?.labels },
      annotations: {
        ...template.metadata?.annotations,
        [ANNOTATIONS.instantiate]: 'manual',
        [ANNOTATIONS.reportDate]: date,
        [ANNOTATIONS.requestedBy]: requestedBy,
      },
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: cronJob.metadata!.name!, uid: cronJob.metadata!.uid! }],
    },
    spec,
  };
}
