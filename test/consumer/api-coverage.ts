// Which public API elements of an installed jsii package a consumer app never references.
//
// The list of elements comes from the package's .jsii assembly (what every jsii language sees): each
// type, the initializer of each concrete class, each public property, method and enum member, under
// the type that declares it. The references come from the TypeScript checker run over the app against
// the installed declarations: a name resolves to the declaration it means, so `waiter.attrTaskId`
// counts for the base class that declares it (and for ExportTaskWaiter, through which it was reached),
// and an object literal's key counts for the property of the props interface it is typed as.
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

export interface ApiCoverage {
  /** Elements the app does not reference, as `Type`, `Type#initializer`, `Type.member`. */
  readonly missing: string[];
  /** Elements not required, and why. */
  readonly notes: string[];
}

interface JsiiMember { readonly name: string; readonly protected?: boolean }
interface JsiiType {
  readonly kind: 'class' | 'interface' | 'enum';
  readonly name: string;
  readonly namespace?: string;
  readonly abstract?: boolean;
  readonly initializer?: { readonly protected?: boolean };
  readonly properties?: JsiiMember[];
  readonly methods?: JsiiMember[];
  readonly members?: JsiiMember[];
  readonly locationInModule?: { readonly filename: string };
}

/** The module a type comes from, without its source or output folder: `src/a/b.ts` and `lib/a/b.d.ts` are `a/b`. */
function moduleKey(file: string): string {
  return file.replace(/\\/g, '/').replace(/^[^/]+\//, '').replace(/(\.d)?\.ts$/, '');
}

function required(assembly: { types: Record<string, JsiiType> }): { elements: Set<string>; notes: string[] } {
  const elements = new Set<string>();
  const notes: string[] = [];
  for (const type of Object.values(assembly.types)) {
    const name = `${moduleKey(type.locationInModule?.filename ?? '')}:${type.namespace ? `${type.namespace}.` : ''}${type.name}`;
    elements.add(name);
    if (type.kind === 'class' && type.initializer && !type.initializer.protected) {
      if (type.abstract) {
        notes.push(`not required: the public constructor of abstract class ${type.name} (only a subclass can call it)`);
      } else {
        elements.add(`${name}#initializer`);
      }
    }
    for (const member of [...type.properties ?? [], ...type.methods ?? [], ...type.members ?? []]) {
      if (member.protected) {
        notes.push(`not required: protected ${type.name}.${member.name} (only a subclass can use it)`);
      } else {
        elements.add(`${name}.${member.name}`);
      }
    }
  }
  return { elements, notes };
}

function qualifiedName(declaration: ts.Node): string | undefined {
  const names: string[] = [];
  for (let node: ts.Node | undefined = declaration; node && !ts.isSourceFile(node); node = node.parent) {
    if ((ts.isClassDeclaration(node) || ts.isInterfaceDeclaration(node) || ts.isEnumDeclaration(node) || ts.isModuleDeclaration(node)) && node.name) {
      names.unshift(node.name.text);
    }
  }
  return names.length > 0 ? names.join('.') : undefined;
}

function isTypeDeclaration(node: ts.Node): node is ts.ClassDeclaration | ts.InterfaceDeclaration | ts.EnumDeclaration {
  return ts.isClassDeclaration(node) || ts.isInterfaceDeclaration(node) || ts.isEnumDeclaration(node);
}

/** The API elements the app references, in the notation of `required`. */
function referenced(appDir: string, packageName: string, appFile: string): Set<string> {
  const configFile = ts.readConfigFile(path.join(appDir, 'tsconfig.json'), ts.sys.readFile);
  const config = ts.parseJsonConfigFileContent(configFile.config, ts.sys, appDir);
  const program = ts.createProgram(config.fileNames, config.options);
  const checker = program.getTypeChecker();
  const packageDir = path.join(appDir, 'node_modules', packageName) + path.sep;
  const found = new Set<string>();

  /** The module of a declaration in the installed package, or undefined for anything else. */
  const packageModule = (declaration: ts.Node): string | undefined => {
    const file = declaration.getSourceFile().fileName;
    return path.resolve(file).startsWith(packageDir) ? moduleKey(path.relative(packageDir, file)) : undefined;
  };

  const record = (symbol: ts.Symbol | undefined, initializer = false) => {
    if (!symbol) return;
    const target = (symbol.getFlags() & ts.SymbolFlags.Alias) !== 0 ? checker.getAliasedSymbol(symbol) : symbol; // eslint-disable-line no-bitwise
    for (const declaration of target.declarations ?? []) {
      const module = packageModule(declaration);
      const memberName = ts.getNameOfDeclaration(declaration);
      if (module === undefined) continue;
      if (isTypeDeclaration(declaration)) {
        found.add(`${module}:${qualifiedName(declaration)}${initializer ? '#initializer' : ''}`);
      } else if (isTypeDeclaration(declaration.parent) && memberName && ts.isIdentifier(memberName)) {
        found.add(`${module}:${qualifiedName(declaration.parent)}`);
        found.add(`${module}:${qualifiedName(declaration.parent)}.${memberName.text}`);
      }
    }
  };

  // A member also counts for the type it was reached through: jsii lists the members of a base class
  // or interface the package does not export under each exported type that inherits them.
  const recordThrough = (type: ts.Type | undefined, member: string) => {
    for (const part of type?.isUnion() ? type.types : type ? [type] : []) {
      for (const declaration of part.getSymbol()?.declarations ?? []) {
        const module = packageModule(declaration);
        if (module !== undefined && isTypeDeclaration(declaration)) {
          found.add(`${module}:${qualifiedName(declaration)}.${member}`);
        }
      }
    }
  };

  // An object literal's key means the property of the type the literal is expected to be.
  const recordLiteralKey = (literal: ts.ObjectLiteralExpression, key: string) => {
    const expected = checker.getContextualType(literal);
    for (const type of expected?.isUnion() ? expected.types : expected ? [expected] : []) {
      record(checker.getPropertyOfType(type, key));
    }
    recordThrough(expected, key);
  };

  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node)) {
      record(checker.getSymbolAtLocation(node));
    }
    if (ts.isPropertyAccessExpression(node)) {
      recordThrough(checker.getTypeAtLocation(node.expression), node.name.text);
    }
    if (ts.isNewExpression(node)) {
      record(checker.getSymbolAtLocation(node.expression), true);
    }
    if ((ts.isPropertyAssignment(node) || ts.isShorthandPropertyAssignment(node)) && ts.isObjectLiteralExpression(node.parent)
      && (ts.isIdentifier(node.name) || ts.isStringLiteral(node.name))) {
      recordLiteralKey(node.parent, node.name.text);
    }
    ts.forEachChild(node, visit);
  };
  const source = program.getSourceFile(path.join(appDir, appFile));
  if (!source) throw new Error(`consumer test: ${appFile} is not part of the app's program`);
  visit(source);
  return found;
}

export function findUnreferencedApi(appDir: string, packageName: string, appFile: string): ApiCoverage {
  const assembly = JSON.parse(fs.readFileSync(path.join(appDir, 'node_modules', packageName, '.jsii'), 'utf8'));
  const { elements, notes } = required(assembly);
  if (elements.size === 0) throw new Error(`consumer test: the installed ${packageName} declares no public API`);
  const used = referenced(appDir, packageName, appFile);
  const missing = [...elements].filter((element) => !used.has(element)).map((element) => element.replace(/^[^:]*:/, ''));
  return { missing: missing.sort(), notes };
}
