import * as s3 from 'aws-cdk-lib/aws-s3';

/** The format of an export. */
export class ExportFormat {
  /** Apache Parquet files. */
  public static readonly PARQUET = new ExportFormat('PARQUET');
  /** CSV files (Neptune's openCypher CSV layout). */
  public static readonly CSV = new ExportFormat('CSV');

  /** A format this library does not know yet. */
  public static of(value: string): ExportFormat {
    return new ExportFormat(value);
  }

  private constructor(public readonly value: string) {}
}

/** The layout of a Parquet export. */
export class ParquetType {
  /** Columnar Parquet. */
  public static readonly COLUMNAR = new ParquetType('COLUMNAR');

  /** A Parquet type this library does not know yet. */
  public static of(value: string): ParquetType {
    return new ParquetType(value);
  }

  private constructor(public readonly value: string) {}
}

/** The type a property is written as. */
export class ExportOutputType {
  public static readonly ANY = new ExportOutputType('Any');
  public static readonly BYTE = new ExportOutputType('Byte');
  public static readonly SHORT = new ExportOutputType('Short');
  public static readonly INT = new ExportOutputType('Int');
  public static readonly LONG = new ExportOutputType('Long');
  public static readonly FLOAT = new ExportOutputType('Float');
  public static readonly DOUBLE = new ExportOutputType('Double');
  public static readonly STRING = new ExportOutputType('String');
  public static readonly BOOLEAN = new ExportOutputType('Boolean');
  public static readonly FLOAT_ARRAY = new ExportOutputType('Float[]');
  public static readonly DOUBLE_ARRAY = new ExportOutputType('Double[]');

  /** An output type this library does not know yet. */
  public static of(value: string): ExportOutputType {
    return new ExportOutputType(value);
  }

  private constructor(public readonly value: string) {}
}

/** What to write when a property has several values. */
export class MultiValueHandling {
  /** All values, as a list. */
  public static readonly TO_LIST = new MultiValueHandling('TO_LIST');
  /** The first value only (the service's default). */
  public static readonly PICK_FIRST = new MultiValueHandling('PICK_FIRST');

  /** A handling this library does not know yet. */
  public static of(value: string): MultiValueHandling {
    return new MultiValueHandling(value);
  }

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
   * @default MultiValueHandling.PICK_FIRST
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

/** Where an export is written. */
export abstract class ExportDestination {
  /**
   * A bucket and an optional key prefix. The default export role gets write access to that prefix.
   */
  public static fromBucket(bucket: s3.IBucket, prefix?: string): ExportDestination {
    return new BucketDestination(bucket, prefix ?? '');
  }

  /**
   * An S3 URI such as `s3://bucket/prefix/`. With a literal URI the default export role gets write
   * access to it; with a token, pass your own `role`.
   */
  public static fromS3Uri(uri: string): ExportDestination {
    return new UriDestination(uri);
  }

  /** The S3 URI the service is given. */
  public abstract readonly uri: string;

  /** The bucket, when the destination was given as one. */
  public abstract readonly bucket?: s3.IBucket;

  /** The key prefix within the bucket, when known at synth time. */
  public abstract readonly keyPrefix?: string;

  /** The bucket name, when known at synth time. */
  public abstract readonly bucketName?: string;
}

class BucketDestination extends ExportDestination {
  public readonly uri: string;
  public readonly bucketName: string;
  constructor(public readonly bucket: s3.IBucket, public readonly keyPrefix: string) {
    super();
    this.uri = bucket.s3UrlForObject(keyPrefix);
    this.bucketName = bucket.bucketName;
  }
}

class UriDestination extends ExportDestination {
  public readonly bucket = undefined;
  public readonly bucketName?: string;
  public readonly keyPrefix?: string;
  constructor(public readonly uri: string) {
    super();
    const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
    if (match) {
      this.bucketName = match[1];
      this.keyPrefix = match[2];
    }
  }
}
