// Checks an answer against the operation that asked for it, field by field,
// with the types the schema gives them: the same types the generated
// TypeScript declares, verified on the values that actually arrived.

import {
  GraphQLEnumType,
  GraphQLScalarType,
  type GraphQLCompositeType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type DocumentNode,
  type SelectionSetNode,
  isAbstractType,
  isEnumType,
  isListType,
  isNonNullType,
  isObjectType,
  isInterfaceType,
  isScalarType,
  Kind,
} from 'graphql';

import type { JsonValue } from './scalars.js';

/** The mismatches between `data` and what `document` promises, as paths. */
export function mismatches(schema: GraphQLSchema, document: DocumentNode, data: unknown): string[] {
  const operation = document.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION);
  if (!operation || operation.kind !== Kind.OPERATION_DEFINITION) {
    return ['the document holds no operation'];
  }
  const root = operation.operation === 'mutation' ? schema.getMutationType() : schema.getQueryType();
  if (!root) {
    return [`the schema has no ${operation.operation} type`];
  }
  const problems: string[] = [];
  checkSelection(schema, root, operation.selectionSet, data, 'data', problems);
  return problems;
}

function checkSelection(
  schema: GraphQLSchema,
  parent: GraphQLCompositeType,
  selectionSet: SelectionSetNode,
  value: unknown,
  path: string,
  problems: string[],
): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problems.push(`${path}: expected an object of ${parent.name}, got ${JSON.stringify(value)}`);
    return;
  }
  const object = value as Record<string, unknown>;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.INLINE_FRAGMENT) {
      const condition = selection.typeCondition
        ? (schema.getType(selection.typeCondition.name.value) as GraphQLCompositeType)
        : parent;
      const actual = object['__typename'];
      if (typeof actual === 'string' && actual !== condition.name && !isAbstractType(condition)) {
        continue;
      }
      checkSelection(schema, condition, selection.selectionSet, value, path, problems);
      continue;
    }
    if (selection.kind !== Kind.FIELD) {
      problems.push(`${path}: fragment spreads are not used by these operations`);
      continue;
    }
    const name = selection.name.value;
    const key = selection.alias?.value ?? name;
    const fieldPath = `${path}.${key}`;
    if (!(key in object)) {
      problems.push(`${fieldPath}: missing`);
      continue;
    }
    if (name === '__typename') {
      continue;
    }
    if (!isObjectType(parent) && !isInterfaceType(parent)) {
      problems.push(`${fieldPath}: ${parent.name} has no fields`);
      continue;
    }
    const field = parent.getFields()[name];
    if (!field) {
      problems.push(`${fieldPath}: ${parent.name} has no field ${name}`);
      continue;
    }
    checkValue(schema, field.type, selection.selectionSet, object[key], fieldPath, problems);
  }
}

function checkValue(
  schema: GraphQLSchema,
  type: GraphQLOutputType,
  selectionSet: SelectionSetNode | undefined,
  value: unknown,
  path: string,
  problems: string[],
): void {
  if (isNonNullType(type)) {
    if (value === null || value === undefined) {
      problems.push(`${path}: null where ${String(type)} is promised`);
      return;
    }
    checkValue(schema, type.ofType, selectionSet, value, path, problems);
    return;
  }
  if (value === null) {
    return;
  }
  if (isListType(type)) {
    if (!Array.isArray(value)) {
      problems.push(`${path}: expected a list`);
      return;
    }
    value.forEach((item, index) =>
      checkValue(schema, type.ofType, selectionSet, item, `${path}[${index}]`, problems),
    );
    return;
  }
  if (isScalarType(type)) {
    if (!scalarFits(type, value)) {
      problems.push(`${path}: ${JSON.stringify(value)} is not a ${type.name}`);
    }
    return;
  }
  if (isEnumType(type)) {
    if (typeof value !== 'string' || !(type as GraphQLEnumType).getValue(value)) {
      problems.push(`${path}: ${JSON.stringify(value)} is not a ${type.name}`);
    }
    return;
  }
  if (!selectionSet) {
    problems.push(`${path}: a ${type.name} without a selection`);
    return;
  }
  checkSelection(schema, type, selectionSet, value, path, problems);
}

function scalarFits(type: GraphQLScalarType, value: unknown): boolean {
  switch (type.name) {
    case 'String':
    case 'ID':
      return typeof value === 'string';
    case 'Int':
      return Number.isInteger(value);
    case 'Float':
      return typeof value === 'number' && Number.isFinite(value);
    case 'Boolean':
      return typeof value === 'boolean';
    case 'DateTime':
      return typeof value === 'string' && /^\d{4}-\d\d-\d\dT/.test(value) && !Number.isNaN(Date.parse(value));
    case 'JSON':
      return isJson(value);
    default:
      return false;
  }
}

function isJson(value: unknown): value is JsonValue {
  if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) {
    return true;
  }
  if (Array.isArray(value)) {
    return value.every(isJson);
  }
  return typeof value === 'object' && Object.values(value as object).every(isJson);
}
