import { correlationIdOrNew } from '../../platform/correlation.js';
import { randomUUID } from 'node:crypto';
import { GraphQLError } from 'graphql';
import type { CallerContext } from '../../platform/auth/internal-identity.js';
import { burnVerification, hashPassword, verifyPassword, type KdfParams } from '../../platform/auth/passwords.js';
import { issueToken, type Role, type TokenSettings } from '../../platform/auth/tokens.js';
import { AlreadyExistsError, DomainError, ForbiddenError, ValidationError } from '../../platform/errors.js';
import type { EventStore } from '../../platform/event-store/event-store.js';
import { handleCommand, loadState } from '../../platform/eventsourcing/command-handler.js';
import { unauthenticated } from '../../platform/graphql/errors.js';
import type { Logger } from '../../platform/logging.js';
import type { Metrics } from '../../platform/metrics/metrics.js';
import type { RateLimiter } from '../../platform/ratelimit/rate-limiter.js';
import { emailDecider, emailStream, normaliseEmail, userDecider, validateEmail, validatePassword, validateTimeZone, type UserState } from './decider.js';
import { userStream, type EmailClaimed } from './events.js';

/** A user as resolvers see it; `self` marks the caller's own account when the caller has no token yet (register, login). */
export type UserModel = Extract<UserState, { status: 'registered' }> & { self?: boolean };

export interface UserServiceDeps {
  events: EventStore;
  metrics: Metrics;
  logger: Logger;
  tokens: TokenSettings;
  kdf: KdfParams;
  limiter: RateLimiter;
  loginLimits: { perEmail: number; perAddress: number };
  clock?: () => Date;
}

export class InvalidCredentialsError extends DomainError {
  constructor() {
    super('INVALID_CREDENTIALS', 'email or password is not correct');
  }
}

function rateLimited(retryAfterMs: number): GraphQLError {
  const seconds = Math.ceil(retryAfterMs / 1000);
  return new GraphQLError(`too many attempts; try again in ${seconds} s`, { extensions: { code: 'RATE_LIMITED', retryAfterSeconds: seconds } });
}

/**
 * The user slice: registration (email uniqueness through a stream per normalised email,
 * appended with "no stream expected"), login (scrypt, constant time, one answer for unknown
 * emails and wrong passwords, rate-limited), profiles. Users are read by folding their own
 * stream: a handful of events, so no read model is needed.
 */
export class UserService {
  private readonly clock: () => Date;

  constructor(private readonly deps: UserServiceDeps) {
    this.clock = deps.clock ?? (() => new Date());
  }

  get metrics(): Metrics {
    return this.deps.metrics;
  }

  async get(userId: string): Promise<UserModel | null> {
    const state = await loadState(this.deps.events, userDecider, userStream(userId));
    return state.status === 'registered' ? state : null;
  }

  private async claimEmail(email: string, userId: string): Promise<string> {
    const now = this.clock();
    try {
      await handleCommand(this.deps.events, emailDecider, emailStream(email), { type: 'ClaimEmail', userId, at: now.toISOString() }, { actor: 'system:user', correlationId: userId, now });
      return userId;
    } catch (error) {
      if (!(error instanceof AlreadyExistsError)) throw error;
      // A claim whose user was never written (a crash between the two appends) is adopted.
      const claim = (await this.deps.events.readStream(emailStream(email)))[0];
      const holder = (claim?.data as EmailClaimed['data'] | undefined)?.userId;
      if (holder && (holder === userId || (await this.deps.events.readStream(userStream(holder))).length === 0)) return holder;
      throw error;
    }
  }

  async register(input: { email: string; password: string; name: string; role?: Role | null; timeZone?: string | null }): Promise<{ token: string; user: UserModel }> {
    const role = input.role ?? 'CUSTOMER';
    if (role === 'ADMIN') throw new ValidationError('ADMIN cannot self-register', ['input', 'role']);
    return this.createAccount(input, role, randomUUID());
  }

  private async createAccount(input: { email: string; password: string; name: string; timeZone?: string | null }, role: Role, proposedId: string): Promise<{ token: string; user: UserModel }> {
    const email = validateEmail(input.email);
    validatePassword(input.password);
    if (input.timeZone != null) validateTimeZone(input.timeZone); // before the email is claimed
    if (input.name.trim().length === 0) throw new ValidationError('name must not be empty', ['input', 'name']);
    const userId = await this.claimEmail(email, proposedId);
    const passwordHash = await hashPassword(input.password, this.deps.kdf);
    const now = this.clock();
    const result = await handleCommand(
      this.deps.events,
      userDecider,
      userStream(userId),
      { type: 'RegisterUser', userId, email, name: input.name, role, passwordHash, timeZone: input.timeZone ?? null, at: now.toISOString() },
      { actor: userId, correlationId: correlationIdOrNew(), now },
    );
    const user = result.state as UserModel;
    return { token: await issueToken({ userId, role: user.role }, this.deps.tokens, now), user: { ...user, self: true } };
  }

  async login(emailInput: string, password: string, caller: CallerContext): Promise<{ token: string; user: UserModel }> {
    const email = normaliseEmail(emailInput);
    const byEmail = await this.deps.limiter.hit(`login:email:${email}`, this.deps.loginLimits.perEmail, 60_000);
    if (!byEmail.allowed) throw rateLimited(byEmail.retryAfterMs);
    if (caller.clientAddress) {
      const byAddress = await this.deps.limiter.hit(`login:address:${caller.clientAddress}`, this.deps.loginLimits.perAddress, 60_000);
      if (!byAddress.allowed) throw rateLimited(byAddress.retryAfterMs);
    }
    const claim = (await this.deps.events.readStream(emailStream(email)))[0];
    const user = claim ? await this.get((claim.data as EmailClaimed['data']).userId) : null;
    if (!user) {
      await burnVerification(password, this.deps.kdf);
      throw new InvalidCredentialsError();
    }
    if (!(await verifyPassword(password, user.passwordHash))) throw new InvalidCredentialsError();
    return { token: await issueToken({ userId: user.userId, role: user.role }, this.deps.tokens, this.clock()), user: { ...user, self: true } };
  }

  async updateProfile(input: { name?: string | null; timeZone?: string | null }, caller: CallerContext): Promise<UserModel> {
    if (!caller.identity) throw unauthenticated();
    if (input.name == null && input.timeZone == null) throw new ValidationError('nothing to update', ['input']);
    const now = this.clock();
    const result = await handleCommand(
      this.deps.events,
      userDecider,
      userStream(caller.identity.userId),
      { type: 'UpdateProfile', userId: caller.identity.userId, name: input.name ?? null, timeZone: input.timeZone ?? null, by: caller.identity, at: now.toISOString() },
      { actor: caller.identity.userId, correlationId: correlationIdOrNew(), now },
    );
    return result.state as UserModel;
  }

  /** Self or admin; others are refused. */
  async visibleUser(userId: string, caller: CallerContext): Promise<UserModel | null> {
    if (!caller.identity) throw unauthenticated();
    if (caller.identity.userId !== userId && caller.identity.role !== 'ADMIN') throw new ForbiddenError('you may only look at your own account');
    return this.get(userId);
  }

  /**
   * Creates an account from configuration once (the admin, which cannot self-register; demo
   * accounts). With a fixed id, running it again, or from another process, is harmless.
   */
  async ensureAccount(account: { email: string; password: string; name: string }, role: Role, userId: string = randomUUID()): Promise<void> {
    try {
      await this.createAccount(account, role, userId);
      this.deps.logger.info({ email: normaliseEmail(account.email), role }, 'account created');
    } catch (error) {
      if (!(error instanceof AlreadyExistsError)) throw error;
    }
  }
}
