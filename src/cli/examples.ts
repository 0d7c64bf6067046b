/**
 * The examples at the end of every `--help`, by command. Two or three each:
 * the common case first, then the variants people look for. They use the
 * flags as they are today; test/cli-help.test.ts checks that
 * every command has an entry, that every entry names a command that exists,
 * and that every flag in an example is one its command (or the command it
 * pipes into) accepts.
 *
 * Kept apart from the command definitions so that main.ts can attach them
 * without loading the lazily loaded command modules, and so that adding a
 * flag and adding an example are two small edits in two places.
 */
/** `[command line, what it does]`. The command line starts with `pgwarden`. */
export type Example = readonly [run: string, does: string];

const PROD_URL = "'postgresql://app@db.internal:5432/shop?sslmode=verify-full'";
const ADMIN_URL = "'postgresql://admin@db.internal/postgres?sslmode=verify-full'";
const BACKUP = '20261201T031500Z-shop-3f9c1a';

export const EXAMPLES: Readonly<Record<string, readonly Example[]>> = {
  pgwarden: [
    ['pgwarden demo', 'See everything at work on a throwaway local cluster (about a minute)'],
    [
      'pgwarden doctor --env production',
      'Check the connection in DATABASE_URL (or DB_*, PG*) against the production policy',
    ],
    ['pgwarden audit --format html --output audit.html', "Audit the server's security as the app's role"],
  ],
  'pgwarden doctor': [
    ['pgwarden doctor', 'Check the connection the app would open (DATABASE_URL, DB_*, PG* variables)'],
    [
      `pgwarden doctor --env production --url ${PROD_URL}`,
      'Judge a URL against the production policy (the password from PGPASSWORD or ~/.pgpass)',
    ],
    [
      'pgwarden doctor --profile prod --policy strict --json',
      'The connection stored as "prod" (creds add prod), strict policy, as JSON',
    ],
  ],
  'pgwarden demo': [
    ['pgwarden demo', 'Run every step, then stop and remove everything it started'],
    ['pgwarden demo --keep', 'Leave the clusters running, to connect to them afterwards'],
  ],
  'pgwarden audit': [
    ['pgwarden audit', 'Audit the server and the connection config the app uses (DATABASE_URL, DB_*, PG*)'],
    [
      'pgwarden audit --profile prod --format html --output audit.html',
      'As the stored "prod", for a browser',
    ],
    [
      'pgwarden audit --env production --format sarif --output audit.sarif --fail-on medium',
      'In CI: exit 1 on any failure of medium severity or above',
    ],
  ],
  'pgwarden monitor': [
    ['pgwarden monitor', 'A live view, refreshed every 2 s (Ctrl-C to quit)'],
    ['pgwarden monitor --once --json', 'One snapshot as JSON, for a script'],
    ['pgwarden monitor --profile admin --long-query 30s', 'Through the stored "admin": queries over 30 s'],
  ],
  'pgwarden alerts': [
    ['pgwarden alerts check --config alerts.yaml', 'Evaluate every rule once, with the thresholds of a file'],
    [
      'pgwarden alerts check --log /var/log/postgresql/postgresql.csv --log-format csvlog --backup-dir ./backups',
      'Read the server log and the backup directory too',
    ],
  ],
  'pgwarden alerts check': [
    [
      'pgwarden alerts check --config alerts.yaml',
      'Evaluate every rule once; exit 1 when one fires (for cron)',
    ],
    [
      'pgwarden alerts check --profile admin --log /var/log/postgresql/postgresql.csv --log-format csvlog',
      'Connect as the stored "admin" and read the server log (csvlog)',
    ],
    [
      'pgwarden alerts check --offline --backup-dir ./backups --backup-max-age 26h --json',
      'Only the rules that need no database: is the newest backup recent enough?',
    ],
  ],

  'pgwarden creds': [
    [
      `pgwarden creds add prod --url ${PROD_URL} --production`,
      'Store a connection; the password goes to the OS keychain (asked for on the terminal)',
    ],
    ['pgwarden creds check', 'Which stored passwords have expired or expire soon'],
    ['pgwarden creds rotate prod --profile admin', 'Set a new password on the server, then store it'],
  ],
  'pgwarden creds add': [
    [
      `pgwarden creds add prod --url ${PROD_URL} --production`,
      'A production connection; the password is asked for on the terminal',
    ],
    [
      'pgwarden creds generate | pgwarden creds add staging --host db.internal --database shop --user app --password-stdin --store file --expires-days 90',
      'A generated password, piped, kept in the encrypted file (a server without a keychain)',
    ],
  ],
  'pgwarden creds update': [
    ['pgwarden creds update staging --password', 'Replace the stored password (asked for on the terminal)'],
    [
      'pgwarden creds update prod --sslrootcert /etc/ssl/certs/db-ca.pem --yes',
      'Change one field of a production profile without the confirmation prompt',
    ],
  ],
  'pgwarden creds list': [
    ['pgwarden creds list', 'Name, user, server, store and expiry of every profile'],
    ['pgwarden creds list --json', 'The same as JSON'],
  ],
  'pgwarden creds show': [
    ['pgwarden creds show prod', 'Every field of a profile, the password hidden'],
    ['pgwarden creds show prod --json', 'The same as JSON (--password includes the password)'],
  ],
  'pgwarden creds test': [
    ['pgwarden creds test prod', 'Connect with the stored credentials; report TLS and the role'],
    ['pgwarden creds test prod --json', 'The same as JSON'],
  ],
  'pgwarden creds remove': [
    ['pgwarden creds remove staging', 'Remove a profile and its stored password'],
    ['pgwarden creds remove prod --yes', 'A production profile, without the confirmation prompt'],
  ],
  'pgwarden creds check': [
    ['pgwarden creds check', 'Expired and soon-expiring passwords; exit 1 when one has expired'],
    ['pgwarden creds check --days 30 --json', 'Expiring within 30 days, as JSON (for cron)'],
  ],
  'pgwarden creds rotate': [
    ['pgwarden creds rotate staging', 'A new password, set with the stored credentials themselves'],
    ['pgwarden creds rotate prod --profile admin --yes', 'Set by the admin connection stored as "admin"'],
    [
      'pgwarden creds rotate prod --strategy alternating --group app_rw --profile admin',
      'Alternate between app and app_clone, so sessions on the old password keep working',
    ],
  ],
  'pgwarden creds generate': [
    ['pgwarden creds generate', 'A 32-character password from the CSPRNG'],
    ['pgwarden creds generate --length 48 --no-ambiguous', 'Longer, without look-alike characters'],
    [
      'pgwarden creds generate | pgwarden creds add prod --url postgresql://app@db.internal/shop --password-stdin',
      'Generate and store in one pipe: the password never shows on screen',
    ],
  ],
  'pgwarden creds export': [
    ['pgwarden creds export prod', 'The connection URI, without the password'],
    ['pgwarden creds export prod --format env', 'PG* variables, for psql and pg_dump'],
    ['pgwarden creds export prod --format json --password', 'JSON with the password (only when asked for)'],
  ],

  'pgwarden roles': [
    [
      'pgwarden roles plan --file roles.yaml --profile admin',
      'Show the SQL that would make the server match',
    ],
    ['pgwarden roles apply --file roles.yaml --profile admin', 'Run it, in one transaction'],
  ],
  'pgwarden roles plan': [
    ['pgwarden roles plan --file roles.yaml --profile admin', 'The SQL, with the reason for each statement'],
    [
      `pgwarden roles plan -f roles.yaml --url ${ADMIN_URL} --check`,
      'Drift detection in CI: exit 1 when the server differs from the file',
    ],
  ],
  'pgwarden roles apply': [
    ['pgwarden roles apply --file roles.yaml --profile admin', 'Apply the plan in one transaction'],
    [`pgwarden roles apply -f roles.yaml --url ${ADMIN_URL} --json`, 'The same, reported as JSON'],
  ],

  'pgwarden incident': [
    [
      'pgwarden incident sessions --since 24h --profile admin',
      'Who connected in the last 24 hours, from where',
    ],
    ['pgwarden incident revoke app --profile admin', 'Lock a role out now and end its sessions'],
  ],
  'pgwarden incident revoke': [
    ['pgwarden incident revoke app --profile admin', 'Lock a role out and end its sessions (asks first)'],
    [
      'pgwarden incident revoke app --rotate --creds-env prod --yes --profile admin',
      'Also replace its password and store the new one as profile "prod"',
    ],
  ],
  'pgwarden incident sessions': [
    ['pgwarden incident sessions --profile admin', 'Every session: user, client, application, TLS'],
    [
      'pgwarden incident sessions --since 24h --user app --json',
      'One role, started in the last day, as JSON',
    ],
  ],

  'pgwarden backup': [
    ['pgwarden backup keygen --out backup.key', 'Make a key file once (keep a copy somewhere safe)'],
    ['pgwarden backup create --dir ./backups --key-file backup.key', 'Back up the database in DATABASE_URL'],
    [
      'pgwarden backup verify latest --dir ./backups --level 2 --key-file backup.key',
      'Check that the newest backup decrypts',
    ],
  ],
  'pgwarden backup create': [
    ['pgwarden backup create --dir ./backups --key-file backup.key', 'Back up the database in DATABASE_URL'],
    [
      'pgwarden backup create --profile prod --dir ./backups --key-file backup.key',
      'Back up the database of the connection stored as "prod"',
    ],
    [
      `pgwarden backup create --url ${PROD_URL} --dir /var/backups/shop --kms-key-id alias/pg-backups --keep-days 90 --retention-class monthly`,
      'Encrypt with an AWS KMS key; keep it 90 days as a monthly backup',
    ],
  ],
  'pgwarden backup list': [
    ['pgwarden backup list --dir ./backups', 'Every backup: database, size, verification, expiry'],
    ['pgwarden backup list --dir ./backups --json', 'The same as JSON'],
  ],
  'pgwarden backup verify': [
    [`pgwarden backup verify ${BACKUP} --dir ./backups --level 1`, 'The file hash only (no key needed)'],
    [
      'pgwarden backup verify latest --dir ./backups --level 2 --key-file backup.key',
      'The newest complete backup: decrypt and authenticate every chunk, and list the dump',
    ],
    [
      `pgwarden backup verify ${BACKUP} --dir ./backups --level 3 --key-file backup.key --url ${ADMIN_URL}`,
      'Restore into a scratch database and compare row counts',
    ],
  ],
  'pgwarden backup restore': [
    [
      "pgwarden backup restore latest --dir ./backups --key-file backup.key --url 'postgresql://admin@localhost/shop_copy'",
      'Restore the newest backup into an empty database, in one transaction',
    ],
    [
      `pgwarden backup restore ./backups/${BACKUP}.pgwb --key-file backup.key --url 'postgresql://admin@localhost/shop' --clean --jobs 4`,
      'Replace what the target holds, with 4 parallel jobs',
    ],
  ],
  'pgwarden backup cleanup': [
    ['pgwarden backup cleanup --dir ./backups', 'What retention would delete (a dry run)'],
    ['pgwarden backup cleanup --dir ./backups --keep-days 30 --confirm', 'Delete backups older than 30 days'],
  ],
  'pgwarden backup keygen': [
    ['pgwarden backup keygen --out backup.key', 'A new key file (mode 0600); never overwrites one'],
    ['pgwarden backup keygen --out /etc/pgwarden/backup.key --json', 'The same, reported as one JSON line'],
  ],
};
