// Every workflow the pipeline worker registers.
export {};
