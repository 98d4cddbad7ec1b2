// The rag's named errors: what a request asked for does not exist, or the embedder cannot run.
import { X0Error } from "@x0/shared";

/** A request names a case the rag does not have (404). */
export class NotFound extends X0Error {}

/** The configured text embedder could not be loaded: the service is not ready. */
export class EmbedderUnavailable extends X0Error {}
