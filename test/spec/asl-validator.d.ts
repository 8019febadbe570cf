// asl-validator ships no type declarations; this is the part of its API the spec checks use.
declare module 'asl-validator' {
  interface AslValidationError {
    readonly 'Error code': string;
    readonly 'Message': string;
    readonly 'path'?: string;
  }
  function aslValidator(definition: object, options?: { checkPaths?: boolean; checkArn?: boolean }): {
    isValid: boolean;
    errors: AslValidationError[];
    errorsText(separator?: string): string;
  };
  export = aslValidator;
}
