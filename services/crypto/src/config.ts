// The crypto service's configuration: the shared control-plane crypto variables (backend, KEK, key folder); none of its own.
import { cryptoConfigShape } from "@x0/shared";

/** The crypto service's variables (besides the common ones): exactly the control-plane crypto ones every signing service has. */
export const cryptoServiceConfigShape = cryptoConfigShape;
