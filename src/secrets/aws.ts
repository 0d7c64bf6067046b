/** `pgwarden/secrets/aws`: AWS Secrets Manager, SSM Parameter Store and RDS IAM tokens (the AWS SDK loads on first use). */
export { createAwsSecretsManagerProvider } from './aws-secrets-manager.js';
export { createAwsSsmProvider } from './aws-ssm.js';
export { createRdsIamProvider } from './rds-iam.js';
