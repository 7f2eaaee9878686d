/**
 * Checks at `serverless package` and `serverless deploy` (a local plugin, loaded from
 * serverless.yml `plugins`).
 *
 * - The three external ARNs (kinesisStreamArn, telephonyFunctionArn, restApiFunctionArn) still
 *   hold their REPLACE placeholders: refused, naming the parameter, for every stage but a
 *   `serverless package --stage local` (to read the template); a deploy is refused for every
 *   stage. A stack with placeholders would deploy and then fail on every record.
 * - alarmEmail unset: every alarm notifies the SNS topic `ctr-sync-<stage>-alarms`, and with no
 *   subscription nobody hears it. Said loudly (a warning block on stderr), not refused: a
 *   stage may subscribe the topic otherwise (a chat integration, a pager), which the template
 *   cannot see.
 */
'use strict';

class DeployChecks {
  constructor(serverless, _options, utils) {
    this.serverless = serverless;
    this.log = utils?.log;
    this.hooks = {
      'before:package:initialize': () => this.checkExternalArns(),
      'after:package:finalize': () => this.checkAlarmEmail(),
    };
  }

  checkExternalArns() {
    const { service } = this.serverless;
    const commands = this.serverless.processedInput?.commands ?? [];
    if (service.provider.stage === 'local' && !commands.includes('deploy')) return;
    const functions = service.functions ?? {};
    const given = {
      kinesisStreamArn: functions.ingest?.events?.[0]?.stream?.arn,
      telephonyFunctionArn: functions.updater?.environment?.INVOKE_TELEPHONY_INTEGRATION_API_ARN,
      restApiFunctionArn: functions.redrive?.environment?.INVOKE_SALESFORCE_REST_API_ARN,
    };
    const missing = Object.entries(given)
      .filter(([, value]) => typeof value !== 'string' || value.includes('REPLACE'))
      .map(([name]) => name);
    if (missing.length === 0) return;
    const ServerlessError = this.serverless.classes?.Error ?? Error;
    throw new ServerlessError(
      `Missing required parameter${missing.length > 1 ? 's' : ''} for stage "${service.provider.stage}": ` +
        `${missing.join(', ')}. Pass ${missing.map((name) => `--param="${name}=arn:..."`).join(' ')} ` +
        '(see README.md, Deploy), or package with --stage local to only read the template.',
    );
  }

  checkAlarmEmail() {
    const template = this.serverless.service.provider.compiledCloudFormationTemplate;
    const email = template?.Parameters?.AlarmEmail?.Default;
    if (email !== undefined && email !== 'none' && email !== '') return;
    const stage = this.serverless.service.provider.stage;
    const lines = [
      '',
      '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!',
      `!! alarmEmail is not set: the alarms of stage "${stage}" reach NOBODY.`,
      `!! Every alarm notifies the SNS topic ctr-sync-${stage}-alarms, which has no`,
      '!! subscriber. Deploy with --param="alarmEmail=ops@example.com", or subscribe',
      '!! your own endpoint to the topic (stack output AlarmTopicArn).',
      '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!',
      '',
    ];
    if (this.log?.warning) this.log.warning(lines.join('\n'));
    else process.stderr.write(`${lines.join('\n')}\n`);
  }
}

module.exports = DeployChecks;
