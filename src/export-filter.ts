/**
 * The type an exported property is written as. The constants are the types the service knows today;
 * `of()` passes any other value through to the service.
 */
export class ExportOutputType {
  /** Whatever type the service infers for each value. */
  public static readonly ANY = new ExportOutputType('Any');
  /** 8-bit signed integer. */
  public static readonly BYTE = new ExportOutputType('Byte');
  /** 16-bit signed integer. */
  public static readonly SHORT = new ExportOutputType('Short');
  /** 32-bit signed integer. */
  public static readonly INT = new ExportOutputType('Int');
  /** 64-bit signed integer. */
  public static readonly LONG = new ExportOutputType('Long');
  /** 32-bit floating point number. */
  public static readonly FLOAT = new ExportOutputType('Float');
  /** 64-bit floating point number. */
  public static readonly DOUBLE = new ExportOutputType('Double');
  /** UTF-8 string. */
  public static readonly STRING = new ExportOutputType('String');
  /** Boolean (the service also accepts the spelling `Bool`, see `of()`). */
  public static readonly BOOLEAN = new ExportOutputType('Boolean');
  /** List of 32-bit floating point numbers. */
  public static readonly FLOAT_ARRAY = new ExportOutputType('Float[]');
  /** List of 64-bit floating point numbers. */
  public static readonly DOUBLE_ARRAY = new ExportOutputType('Double[]');

  /**
   * An output type this library does not know yet. Only its shape is checked at synth time (a name
   * of letters and digits, optionally followed by `[]`); the service decides whether it knows it.
   */
  public static of(value: string): ExportOutputType {
    return new ExportOutputType(value);
  }

  /** @param value the type as the service names it */
  private constructor(public readonly value: string) {}
}

/**
 * What to write when a property has several values. The constants are the choices the service knows
 * today; `of()` passes any other value through to the service.
 */
export class MultiValueHandling {
  /** All values, as a list. */
  public static readonly TO_LIST = new MultiValueHandling('TO_LIST');
  /** The first value only (what the service does when nothing is given). */
  public static readonly PICK_FIRST = new MultiValueHandling('PICK_FIRST');

  /**
   * A handling this library does not know yet. Only its shape is checked at synth time (upper-case
   * letters, digits and underscores); the service decides whether it knows it.
   */
  public static of(value: string): MultiValueHandling {
    return new MultiValueHandling(value);
  }

  /** @param value the handling as the service names it */
  private constructor(public readonly value: string) {}
}

/** How one exported property is written. */
export interface ExportFilterPropertyAttributes {
  /**
   * The type to write the property as.
   * @default - the service infers it
   */
  readonly outputType?: ExportOutputType;

  /**
   * The property of the graph to read, when it differs from the output name.
   * @default - the output name
   */
  readonly sourcePropertyName?: string;

  /**
   * What to write when the property has several values.
   * @default - the service writes the first value (`MultiValueHandling.PICK_FIRST`)
   */
  readonly multiValueHandling?: MultiValueHandling;
}

/** Which properties of one vertex or edge label to export. */
export interface ExportFilterElement {
  /**
   * Output name to how it is written. Output names are 1-128 letters, digits or underscores.
   * @default - every property of the label
   */
  readonly properties?: { [outputName: string]: ExportFilterPropertyAttributes };
}

/**
 * Which labels and properties to export. Without a filter the whole graph is exported; a filter
 * with neither vertices nor edges exports nothing.
 */
export interface ExportFilter {
  /**
   * Vertex label (1-128 characters) to what to export of it.
   * @default - no vertices
   */
  readonly vertexFilter?: { [label: string]: ExportFilterElement };

  /**
   * Edge label (1-128 characters) to what to export of it.
   * @default - no edges
   */
  readonly edgeFilter?: { [label: string]: ExportFilterElement };
}

