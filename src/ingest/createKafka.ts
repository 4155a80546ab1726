import { Kafka, logLevel, type KafkaConfig, type SASLOptions } from 'kafkajs';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';

const pinoLevel = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
  [logLevel.NOTHING]: 'silent',
} as const;

/** One Kafka client for the process, its logs routed into ours (kafkajs' INFO chatter demoted to debug). */
export function createKafka(config: Config, logger: Logger): Kafka {
  const log = logger.child({ part: 'kafkajs' });
  const sasl: SASLOptions | undefined =
    config.KAFKA_SASL_MECHANISM === undefined
      ? undefined
      : {
          mechanism: config.KAFKA_SASL_MECHANISM,
          username: config.KAFKA_SASL_USERNAME ?? '',
          password: config.KAFKA_SASL_PASSWORD ?? '',
        };
  const kafkaConfig: KafkaConfig = {
    clientId: config.KAFKA_CLIENT_ID,
    brokers: config.KAFKA_BROKERS,
    ssl: config.KAFKA_SSL,
    ...(sasl === undefined ? {} : { sasl }),
    logLevel: logLevel.INFO,
    logCreator:
      () =>
      ({ level, log: entry }) => {
        const { message, ...fields } = entry;
        const target = level === logLevel.INFO ? 'debug' : pinoLevel[level];
        if (target !== 'silent') log[target](fields, message);
      },
  };
  return new Kafka(kafkaConfig);
}
