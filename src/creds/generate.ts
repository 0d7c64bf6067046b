/**
 * Password generation: a CSPRNG (`crypto.randomInt`, rejection-sampled, so
 * every character is equally likely), at least one character of each chosen
 * class, optionally without look-alike characters, and never a leading `{`
 * (the AWS backends read such a secret as JSON first).
 */
import { randomInt } from 'node:crypto';
import { Secret } from '../redact/secret.js';
import { CredsError } from './creds-error.js';

export const CHARACTER_CLASSES = {
  lower: 'abcdefghijklmnopqrstuvwxyz',
  upper: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  digits: '0123456789',
  // No quotes, backslash, space or `$`: the password survives shells, URLs and .env files unquoted-ish.
  symbols: '!#%&()*+,-./:;<=>?@[]^_{}~',
} as const;
export type CharacterClass = keyof typeof CHARACTER_CLASSES;

/** Characters easily confused when read aloud or typed from a screen. */
export const AMBIGUOUS_CHARACTERS = 'Il1O0o|';

export const DEFAULT_PASSWORD_LENGTH = 32;
/** Shorter passwords are refused: the production policy flags anything under 16 too. */
export const MIN_PASSWORD_LENGTH = 16;

export interface GenerateOptions {
  /** Length in characters. Default 32; at least 16, at most 1024. */
  length?: number;
  /** Classes to draw from; each appears at least once. Default all four. */
  classes?: readonly CharacterClass[];
  /** Leave out look-alike characters (`Il1O0o|`). Default false. */
  noAmbiguous?: boolean;
}

/** A new random password, as a {@link Secret}. */
export function generatePassword(options: GenerateOptions = {}): Secret {
  const length = options.length ?? DEFAULT_PASSWORD_LENGTH;
  const classes = [...new Set(options.classes ?? (Object.keys(CHARACTER_CLASSES) as CharacterClass[]))];
  if (!Number.isInteger(length) || length < MIN_PASSWORD_LENGTH || length > 1024) {
    throw new CredsError(
      'PGW_CREDS_INVALID',
      `A generated password must have ${MIN_PASSWORD_LENGTH} to 1024 characters.`,
      {
        option: '--length',
        fix: `Pass --length ${DEFAULT_PASSWORD_LENGTH} (the default) or more.`,
      },
    );
  }
  if (classes.length === 0 || classes.some((c) => !(c in CHARACTER_CLASSES))) {
    throw new CredsError(
      'PGW_CREDS_INVALID',
      'Character classes must be some of lower, upper, digits, symbols.',
      {
        option: '--classes',
        fix: 'Pass e.g. --classes lower,upper,digits.',
      },
    );
  }
  const strip = (set: string): string =>
    options.noAmbiguous ? [...set].filter((ch) => !AMBIGUOUS_CHARACTERS.includes(ch)).join('') : set;
  const sets = classes.map((c) => strip(CHARACTER_CLASSES[c]));
  const alphabet = sets.join('');
  // One character of each class at distinct random positions.
  const positions = new Set<number>();
  while (positions.size < sets.length) positions.add(randomInt(length));
  const classAt = new Map([...positions].map((position, i) => [position, sets[i] as string]));
  const chars = Array.from({ length }, (_, position) => {
    let set = classAt.get(position) ?? alphabet;
    // Never a leading "{": secrets backends read a value that starts with one as JSON first.
    if (position === 0) set = set.replace('{', '');
    return set[randomInt(set.length)] as string;
  });
  return new Secret(chars.join(''));
}

/** Parses `lower,upper,digits,symbols`. */
export function parseClasses(text: string): CharacterClass[] {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const known = Object.keys(CHARACTER_CLASSES);
  const bad = names.find((n) => !known.includes(n));
  if (bad !== undefined || names.length === 0) {
    throw new CredsError('PGW_CREDS_INVALID', `"${bad ?? text}" is not a character class.`, {
      option: '--classes',
      fix: 'Use a comma-separated list of lower, upper, digits, symbols.',
    });
  }
  return names as CharacterClass[];
}
