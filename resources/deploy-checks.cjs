/**
 * Checks at `serverless package` and `serverless deploy` (a local plugin, loaded from
 * serverless.yml `plugins`).
 *
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
    this.hooks = { 'after:package:finalize': () => this.checkAlarmEmail() };
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
