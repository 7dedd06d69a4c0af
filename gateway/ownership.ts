import { Kind, type ConstDirectiveNode, type DocumentNode } from 'graphql';

/**
 * Which subgraph resolves which field, read from the subgraphs' own SDL: the facts the gateway
 * needs to complete a subscription event with fields that other subgraphs own.
 */
export class Ownership {
  private readonly fields = new Map<string, Map<string, string[]>>(); // type -> field -> subgraphs
  private readonly keys = new Map<string, string[]>(); // entity type -> key fields
  private readonly resolvable = new Map<string, string[]>(); // entity type -> subgraphs resolving references

  constructor(subgraphs: readonly { name: string; typeDefs: DocumentNode }[]) {
    for (const { name, typeDefs } of subgraphs) {
      for (const def of typeDefs.definitions) {
        if (def.kind !== Kind.OBJECT_TYPE_DEFINITION && def.kind !== Kind.OBJECT_TYPE_EXTENSION) continue;
        const type = def.name.value;
        const key = def.directives?.find((d) => d.name.value === 'key');
        if (key) {
          const fields = stringArgument(key, 'fields');
          if (fields && /^[A-Za-z_][A-Za-z0-9_]*( [A-Za-z_][A-Za-z0-9_]*)*$/.test(fields)) this.keys.set(type, fields.split(' '));
          if (booleanArgument(key, 'resolvable') !== false) this.resolvable.set(type, [...(this.resolvable.get(type) ?? []), name]);
        }
        let byField = this.fields.get(type);
        if (!byField) this.fields.set(type, (byField = new Map<string, string[]>()));
        for (const field of def.fields ?? []) {
          if (field.directives?.some((d) => d.name.value === 'external')) continue;
          byField.set(field.name.value, [...(byField.get(field.name.value) ?? []), name]);
        }
      }
    }
  }

  resolves(subgraph: string, type: string, field: string): boolean {
    return field === '__typename' || (this.fields.get(type)?.get(field)?.includes(subgraph) ?? false);
  }

  /** The key fields of an entity type (simple keys only), or undefined for a value type. */
  key(type: string): string[] | undefined {
    return this.keys.get(type);
  }

  /** A subgraph that resolves `type.field` and can look `type` up by reference. */
  ownerOf(type: string, field: string): string | undefined {
    const candidates = this.fields.get(type)?.get(field) ?? [];
    return candidates.find((s) => this.resolvable.get(type)?.includes(s));
  }
}

function stringArgument(directive: ConstDirectiveNode, name: string): string | undefined {
  const value = directive.arguments?.find((a) => a.name.value === name)?.value;
  return value?.kind === Kind.STRING ? value.value : undefined;
}

function booleanArgument(directive: ConstDirectiveNode, name: string): boolean | undefined {
  const value = directive.arguments?.find((a) => a.name.value === name)?.value;
  return value?.kind === Kind.BOOLEAN ? value.value : undefined;
}
