import { withUserErrors } from '../../../platform/graphql/errors.js';
import type { MutationResolvers } from '../__generated__/resolvers-types.js';

export const Mutation: MutationResolvers = {
  register: (_, { input }, { service }) => withUserErrors(service.metrics, () => service.register(input), { token: null, user: null }),
  login: (_, { email, password }, { service, caller }) => withUserErrors(service.metrics, () => service.login(email, password, caller), { token: null, user: null }),
  updateProfile: (_, { input }, { service, caller }) => withUserErrors(service.metrics, async () => ({ user: await service.updateProfile(input, caller) }), { user: null }),
};
